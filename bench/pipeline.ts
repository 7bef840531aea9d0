/**
 * `npm run bench:pipeline [-- --runs N]`: what each analysis stage costs, per FIQA outcome, on the
 * main thread. Examples: the first photo of the shared set (manifest order) whose verdict at the
 * default thresholds is each outcome (accepted, two or more faces, occluded, low quality), found by
 * running the gate (no photo of the set is low quality at the defaults: a blurred one is made); a
 * generated face-free image for no face; and the 640x480 portrait frame of
 * `npm run bench`. For each, the median over the runs of each stage (src/pipeline/stages.ts) and of
 * each model's runs inside them, for the whole analysis (QI Tech, enrollment), the whole assessment
 * FIQA ran before the cascade, and the FIQA cascade (`fiqaCascade`). Without the shared photo set,
 * only the face-free image is measured.
 */
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { facesAvailable, faceManifest, facePath } from '../eval/dataset';
import { analysisOptions, loadConfig } from '../src/config';
import { detectingFrom } from '../src/pipeline/analyze';
import { type FiqaThresholds, fiqaCascade, fiqaVerdict } from '../src/gate/fiqa';
import type { ModelName } from '../src/models/catalog';
import { loadModels, type ModelRegistry } from '../src/models/registry';
import { analyze, type AnalysisOptions, assess } from '../src/pipeline/analyze';
import { STAGES, type StageRecord, stageRecord } from '../src/pipeline/stages';
import { readFile } from 'node:fs/promises';
import { portraitAvailable, portraitFrame } from './frames';
import { argValue, stealMeter, summarize } from './stats';

interface Example {
  label: string;
  bytes: Buffer;
}

type Mode = 'analyze()' | 'assess() (FIQA before)' | 'cascade (FIQA after)';
const MODES: Mode[] = ['analyze()', 'assess() (FIQA before)', 'cascade (FIQA after)'];

async function faceFree(): Promise<Buffer> {
  const pixels = Buffer.from(Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 7) % 256));
  return sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } }).resize(640, 480).jpeg().toBuffer();
}

/** The gate's verdict on the whole assessment, as a label: its outcome and what decided it. */
async function outcomeOf(bytes: Buffer, models: ModelRegistry, options: AnalysisOptions, thresholds: FiqaThresholds): Promise<{ outcome: string; detail: string }> {
  const verdict = fiqaVerdict(await assess(bytes, models, detectingFrom(options, thresholds.detection)), thresholds);
  const outcome = verdict.outcome === 'face_count' ? (verdict.faceCount >= 2 ? 'two or more faces' : 'no face') : verdict.outcome.replace('_', ' ');
  const detail = verdict.outcome === 'face_count' ? `${verdict.faceCount} faces` : verdict.iqa ? `iqa ${verdict.iqa.score.toFixed(3)}` : 'occluded';
  return { outcome, detail };
}

/** The portrait frame, then the first photo per outcome by the gate's verdict at `thresholds`, then a face-free image. */
async function examples(models: ModelRegistry, options: AnalysisOptions, thresholds: FiqaThresholds): Promise<Example[]> {
  const found: Example[] = [];
  if (portraitAvailable) {
    const bytes = await portraitFrame(640, 480);
    const { outcome, detail } = await outcomeOf(bytes, models, options, thresholds);
    found.push({ label: `${outcome}: 640x480 portrait frame of npm run bench (${detail})`, bytes });
  }
  const wanted = ['accepted', 'two or more faces', 'occluded', 'low quality'];
  if (facesAvailable) {
    for (const record of faceManifest()) {
      if (wanted.length === 0) break;
      const bytes = await readFile(facePath(record.file));
      const { outcome, detail } = await outcomeOf(bytes, models, options, thresholds);
      const index = wanted.indexOf(outcome);
      if (index < 0) continue;
      wanted.splice(index, 1);
      const { width, height } = await sharp(bytes).metadata();
      found.push({ label: `${outcome}: ${record.file} (${width}x${height}, ${detail})`, bytes });
    }
  }
  if (facesAvailable && wanted.includes('low quality')) {
    // No photo of the set is below the default quality threshold: one is made so.
    const bytes = await sharp(await readFile(facePath('deepface_img29.jpg'))).resize(640).blur(10).jpeg({ quality: 30 }).toBuffer();
    const { outcome, detail } = await outcomeOf(bytes, models, options, thresholds);
    found.push({ label: `${outcome}: deepface_img29.jpg 640 px wide, Gaussian blur sigma 10, JPEG quality 30 (${detail})`, bytes });
  }
  found.push({ label: 'no face: generated gradient, 640x480', bytes: await faceFree() });
  return found;
}

async function once(mode: Mode, bytes: Buffer, models: ModelRegistry, options: AnalysisOptions, thresholds: FiqaThresholds): Promise<{ record: StageRecord; ms: number }> {
  const record = stageRecord();
  const start = performance.now();
  if (mode === 'analyze()') await analyze(bytes, models, detectingFrom(options, thresholds.detection), record);
  else if (mode === 'assess() (FIQA before)') fiqaVerdict(await assess(bytes, models, detectingFrom(options, thresholds.detection), record), thresholds);
  else await fiqaCascade(bytes, models, options, thresholds, record);
  return { record, ms: performance.now() - start };
}

const cell = (values: number[] | undefined, count?: number) =>
  values === undefined ? '-' : `${summarize(values).median.toFixed(1)}${count !== undefined ? ` (${count} run${count === 1 ? '' : 's'})` : ''}`;

async function main(): Promise<void> {
  const runs = argValue('runs', 15);
  const config = loadConfig();
  const models = await loadModels(config.models);
  const options = analysisOptions(config);
  const thresholds = config.gate.fiqa;
  const list = await examples(models, options, thresholds);
  console.log(`${runs} runs after 2 warm-up runs each; ${config.models.intraOpThreads} intra-op thread(s); default FIQA thresholds ${JSON.stringify(thresholds)}`);
  console.log('Stage medians in ms; a model row is the median of its runs\' total per image, with its runs per image. "-": not run.');
  for (const { label, bytes } of list) {
    const stages = new Map<string, Partial<Record<Mode, number[]>>>();
    const modelTimes = new Map<ModelName, Partial<Record<Mode, number[]>>>();
    const modelCounts = new Map<ModelName, Partial<Record<Mode, number>>>();
    const totals: Partial<Record<Mode, number[]>> = {};
    const stolen = stealMeter();
    for (const mode of MODES) for (let i = 0; i < 2; i++) await once(mode, bytes, models, options, thresholds);
    // The three in turn, run after run, so that a change in the machine's load falls on all three.
    for (let i = 0; i < runs; i++) {
      for (const mode of MODES) {
        const { record, ms } = await once(mode, bytes, models, options, thresholds);
        (totals[mode] ??= []).push(ms);
        const byStage = new Map<string, number>();
        for (const s of record.stages) byStage.set(s.stage, (byStage.get(s.stage) ?? 0) + s.ms);
        for (const [stage, ms] of byStage) {
          const row = stages.get(stage) ?? {};
          (row[mode] ??= []).push(ms);
          stages.set(stage, row);
        }
        const byModel = new Map<ModelName, { ms: number; count: number }>();
        for (const r of record.runs) {
          const m = byModel.get(r.model) ?? { ms: 0, count: 0 };
          byModel.set(r.model, { ms: m.ms + r.ms, count: m.count + 1 });
        }
        for (const [model, { ms, count }] of byModel) {
          const row = modelTimes.get(model) ?? {};
          (row[mode] ??= []).push(ms);
          modelTimes.set(model, row);
          const counts = modelCounts.get(model) ?? {};
          counts[mode] = count;
          modelCounts.set(model, counts);
        }
      }
    }
    console.log(`\n${label}; CPU stolen by the host meanwhile: ${(100 * stolen()).toFixed(0)}%`);
    console.log(`| stage | ${MODES.join(' | ')} |`);
    console.log(`|---|${MODES.map(() => '---:').join('|')}|`);
    for (const stage of STAGES) {
      const row = stages.get(stage);
      if (row) console.log(`| ${stage} | ${MODES.map((m) => cell(row[m])).join(' | ')} |`);
    }
    for (const [model, row] of modelTimes) console.log(`| model: ${model} | ${MODES.map((m) => cell(row[m], modelCounts.get(model)?.[m])).join(' | ')} |`);
    console.log(`| **whole call** | ${MODES.map((m) => `**${cell(totals[m])}**`).join(' | ')} |`);
  }
  await models.release();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
