import type { Analyzer } from '../../src/pipeline/analyze';

/**
 * The real analyzer, but each analysis starts only when the test lets one go (`release`), so a
 * test can hold a request in its turn for as long as it needs; `started` counts analyses asked for.
 */
export function gatedAnalyzer(analyzer: Analyzer) {
  const gates: (() => void)[] = [];
  let started = 0;
  const gate = <T>(work: () => Promise<T>): Promise<T> => {
    started++;
    return new Promise<void>((resolve) => gates.push(resolve)).then(work);
  };
  return {
    analyzer: {
      analyze: (bytes, options) => gate(() => analyzer.analyze(bytes, options)),
      assess: (bytes, options) => gate(() => analyzer.assess(bytes, options)),
      analyzeCounted: (bytes, options, countAt) => gate(() => analyzer.analyzeCounted(bytes, options, countAt)),
      cascade: (bytes, options, stops) => gate(() => analyzer.cascade(bytes, options, stops)),
      get loaded() {
        return analyzer.loaded;
      },
    } satisfies Analyzer,
    /** Lets the oldest held analysis run. */
    release: () => gates.shift()?.(),
    get held() {
      return gates.length;
    },
    get started() {
      return started;
    },
  };
}
