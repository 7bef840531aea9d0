/**
 * `npm run bench:models [-- --runs N]`: median and p90 latency of one batch-1 inference per model,
 * on one intra-op thread and on the configured number.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { MODEL_NAMES } from '../src/models/catalog';
import { loadModels, type ModelRunner } from '../src/models/registry';
import type { ModelName } from '../src/models/catalog';
import { argValue, summarize } from './stats';

const WARMUP = 5;

async function time(runner: ModelRunner<ModelName>, runs: number): Promise<{ median: number; p90: number }> {
  const input = new Float32Array(runner.imageShape.reduce((a, b) => a * b, 1)).map((_, i) => (i % 251) / 251);
  for (let i = 0; i < WARMUP; i++) await runner.run(input);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await runner.run(input);
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

async function main(): Promise<void> {
  const runs = argValue('runs', 50);
  const config = loadConfig();
  const threads = config.models.intraOpThreads;
  const single = await loadModels({ ...config.models, load: MODEL_NAMES, intraOpThreads: 1 });
  const configured = await loadModels({ ...config.models, load: MODEL_NAMES });
  console.log(`${runs} runs per model after ${WARMUP} warm-up runs; ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'})`);
  console.log(`| model | input | 1 thread median ms | 1 thread p90 ms | ${threads} threads median ms | ${threads} threads p90 ms |`);
  console.log('|---|---|---:|---:|---:|---:|');
  for (const name of MODEL_NAMES) {
    const a = await time(single.get(name), runs);
    const b = await time(configured.get(name), runs);
    const shape = single.get(name).imageShape.join('x');
    console.log(`| ${name} | ${shape} | ${a.median.toFixed(2)} | ${a.p90.toFixed(2)} | ${b.median.toFixed(2)} | ${b.p90.toFixed(2)} |`);
  }
  await single.release();
  await configured.release();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
