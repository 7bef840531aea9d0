import { writeFileSync } from 'node:fs';

/** A Markdown document built line by line by the evaluation scripts. */
export function markdownReport() {
  const lines: string[] = [];
  const say = (line = '') => lines.push(line);
  const table = (header: string[], rows: (string | number)[][]) => {
    say(`| ${header.join(' | ')} |`);
    say(`|${header.map(() => '---').join('|')}|`);
    for (const row of rows) say(`| ${row.join(' | ')} |`);
    say();
  };
  /** Prints the document, and writes it to the file after `--out` when given. */
  const finish = (argv = process.argv) => {
    const text = lines.join('\n');
    const target = argv.indexOf('--out');
    if (target >= 0) writeFileSync(argv[target + 1], text);
    console.log(text);
  };
  return { say, table, finish };
}

/** Runs a script's main function; a failure prints its message and exits 1. */
export function runScript(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
