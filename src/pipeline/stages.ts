import { performance } from 'node:perf_hooks';
import type { ModelName } from '../models/catalog';
import type { ModelRegistry, ModelRunner } from '../models/registry';

/** The steps an analysis (or the FIQA cascade) takes, in the order they run. */
export const STAGES = [
  'decode',
  'detect',
  'mesh',
  'second look',
  'eyes',
  'expression',
  'occlusion',
  'embed',
  'measure',
  'quality',
  'iso',
  'liveness',
  'crop',
] as const;
export type Stage = (typeof STAGES)[number];

/** What one analysis did: each stage it ran and its time, and each model run inside them. */
export interface StageRecord {
  stages: { stage: Stage; ms: number }[];
  runs: { model: ModelName; batch: number; ms: number }[];
}

export function stageRecord(): StageRecord {
  return { stages: [], runs: [] };
}

/** Adds what `other` recorded (an analysis on a worker thread) to `record`. */
export function appendRecord(record: StageRecord, other: StageRecord): void {
  record.stages.push(...other.stages);
  record.runs.push(...other.runs);
}

/** Runs `work` as `stage`, adding its time to `record` when there is one. */
export async function timed<T>(record: StageRecord | undefined, stage: Stage, work: () => Promise<T> | T): Promise<T> {
  if (!record) return work();
  const start = performance.now();
  const result = await work();
  record.stages.push({ stage, ms: performance.now() - start });
  return result;
}

/** The stages `record` ran, each once, in order. */
export function stagesRun(record: StageRecord): Stage[] {
  return STAGES.filter((stage) => record.stages.some((s) => s.stage === stage));
}

/** How many times `record` ran `model` (one batched run counts once). */
export function runsOf(record: StageRecord, model: ModelName): number {
  return record.runs.filter((r) => r.model === model).length;
}

/** `models`, with every model run also written to `record` (the registry itself is unchanged); `models` as it is without a record. */
export function recordingRuns(models: ModelRegistry, record: StageRecord | undefined): ModelRegistry {
  if (!record) return models;
  const runners = new Map<ModelName, ModelRunner<ModelName>>();
  const get = <N extends ModelName>(name: N): ModelRunner<N> => {
    const known = runners.get(name);
    if (known) return known as ModelRunner<N>;
    const runner = models.get(name);
    const recording: ModelRunner<N> = {
      name: runner.name,
      entry: runner.entry,
      imageShape: runner.imageShape,
      run: async (input, batch = 1) => {
        const start = performance.now();
        const outputs = await runner.run(input, batch);
        record.runs.push({ model: name, batch, ms: performance.now() - start });
        return outputs;
      },
    };
    runners.set(name, recording as ModelRunner<ModelName>);
    return recording;
  };
  return {
    get,
    has: (name) => models.has(name),
    get loaded() {
      return models.loaded;
    },
    release: () => models.release(),
  };
}
