/**
 * `npm run calibrate:quality [-- --out scratch/quality-calibration.md]`: the measurements behind
 * the IQA score (the quality model's inputs and output, and the measured credit curves of config `pipeline.quality`, docs/quality.md). Medians of every measure on
 * clean frontal faces of the shared photo set, and on the same faces at four strengths of each
 * degradation. Prints Markdown.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config';
import { loadModels } from '../src/models/registry';
import { analyze, type FaceReport } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { markdownReport, runScript } from './markdown';
import { FACES_DIR, faceManifest, facePath, facesAvailable, isCleanFrontal, photoSetOptions } from './dataset';
import { DEGRADATIONS } from './transforms';

const FACES = 10;

const MEASURES: Record<string, (face: FaceReport) => number> = {
  'fr-feature norm': (f) => f.quality.embeddingNorm,
  'predicted similarity': (f) => f.quality.predictedSimilarity,
  score: (f) => f.quality.score,
  'log10 sharpness': (f) => Math.log10(f.photometry.sharpness + 1),
  'inter-pupil distance': (f) => f.geometry.ipd,
  brightness: (f) => f.photometry.brightness,
  clipped: (f) => f.photometry.underExposed + f.photometry.overExposed,
  'noise σ': (f) => f.photometry.noise,
  blockiness: (f) => f.photometry.blockiness,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels(config.models);
  const faces = [];
  for (const record of faceManifest().filter(isCleanFrontal)) {
    const bytes = readFileSync(facePath(record.file));
    const analysis = await analyze(bytes, models, options);
    if (analysis.faces.length !== 1) continue;
    faces.push({ file: record.file, image: await decodeImage(bytes, options.limits), ipd: analysis.faces[0].geometry.ipd });
    if (faces.length === FACES) break;
  }
  const { say, table, finish } = markdownReport();
  say('# Quality measures under degradation');
  say();
  say(`Medians over ${faces.length} clean frontal faces (${faces.map((f) => f.file).join(', ')}); fr-feature norm: of the raw (mean of crop and mirror) embedding; predicted similarity: the quality model's output; score: the IQA score. A face the detector loses is left out of its median; "faces" counts those kept.`);
  say();
  const rows: (string | number)[][] = [];
  for (const [name, degrade] of Object.entries(DEGRADATIONS)) {
    for (let strength = 0; strength <= 4; strength++) {
      const found: FaceReport[] = [];
      for (const face of faces) {
        const [report] = (await analyze(await degrade(face.image, strength, face.ipd), models, options)).faces;
        if (report) found.push(report);
      }
      rows.push([name, strength, found.length, ...Object.values(MEASURES).map((measure) => median(found.map(measure)).toFixed(3))]);
    }
  }
  table(['degradation', 'strength', 'faces', ...Object.keys(MEASURES)], rows);
  await models.release();
  finish();
}

runScript(main);
