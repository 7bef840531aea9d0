/**
 * `npm run train:occlusion`: trains the occlusion model from scratch and writes models/occlusion.onnx
 * and its manifest entry. Reproducible: the same photo set and seed give the same model.
 *
 * Faces: the one-face, unoccluded, real photos of the shared set whose identity falls in the
 * training split (70%, by a hash of the identity), each also mirrored. Each gets synthetic
 * occluders (dark glasses, masks, scarves, skin-coloured hands, caps, textured patches) drawn at
 * mesh-derived positions; the occluded photo goes through the real detector and landmarks, and its
 * occlusion features are labelled with how much of each region the occluder covers (the clean
 * mesh outlines the regions): at least half covered = occluded, under 10% = clear, between = unused.
 *
 * `npm run train:occlusion -- --select` first chooses the L2 strength and the positives' share by
 * 4-fold cross-validation over the training people (train/occlusion-selection.ts), then fits the
 * chosen setting on all of them; without it, the setting chosen that way last time is used.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../src/config';
import { photoSetOptions } from '../eval/dataset';
import { type ManifestEntry, readManifest, sha256 } from '../src/models/manifest';
import { ONNX_OPSET } from '../src/models/onnx-converter';
import { loadModels } from '../src/models/registry';
import { OCCLUSION_FEATURES, OCCLUSION_OUTPUTS, OCCLUSION_REGIONS } from '../src/pipeline/occlusion';
import { seededRandom } from '../eval/random';
import { fitLogistic, predict } from './logistic';
import { logisticToOnnx } from './logistic-onnx';
import { CLEAR_BELOW, cleanFaces, cleanRecords, hash, inTrainingSplit, OCCLUDED_AT, OCCLUDED_FROM, type Sample, samplesOf, TRAINING_SEED } from './occlusion-data';
import { choose, crossValidate, type FitSettings, foldsOf } from './occlusion-selection';

const VARIANTS_PER_FACE = 24;
const DEGRADATIONS_PER_FACE = 6;
const TRAINING = { epochs: 400, rate: 0.02 };
/** Chosen by `--select` (docs/occlusion.md gives the cross-validation table). */
const CHOSEN: FitSettings = { l2: 0.6, positiveShare: 0.6 };
const GRID: FitSettings[] = [0.1, 0.3, 0.6, 1.2].flatMap((l2) => [0.5, 0.6, 0.7].map((positiveShare) => ({ l2, positiveShare })));
const FOLDS = 4;
/** The evaluation's limit on clean frontal photos flagged occluded, applied here to all clean faces. */
const MAX_CLEAN_FLAGGED = 0.05;

function label(coverage: number): number {
  if (coverage >= OCCLUDED_FROM) return 1;
  if (coverage < CLEAR_BELOW) return 0;
  return Number.NaN;
}

function select(samples: Sample[], labels: number[][]): FitSettings {
  const fold = foldsOf(samples.map((s) => s.person), FOLDS, hash);
  const sizes = [...Array(FOLDS).keys()].map((k) => [...fold.values()].filter((f) => f === k).length);
  console.log(`cross-validation: ${fold.size} people in ${FOLDS} folds of ${sizes.join(', ')}; ${GRID.length} settings`);
  const scores = crossValidate(
    samples.map((s, n) => ({ person: s.person, features: s.features, labels: labels[n], clean: s.kind === 'none' })),
    fold,
    GRID,
    TRAINING,
    OCCLUSION_REGIONS.length,
    OCCLUDED_AT,
    console.log,
  );
  const chosen = choose(scores, MAX_CLEAN_FLAGGED);
  console.log(`| L2 | positives' share | ${OCCLUSION_REGIONS.join(' | ')} | lowest | clean faces flagged |`);
  console.log(`|---:|---:|${OCCLUSION_REGIONS.map(() => '---:|').join('')}---:|---:|`);
  for (const s of scores) {
    const mark = s === chosen ? ' (chosen)' : '';
    const recall = s.recall.map((r) => `${(100 * r).toFixed(1)}%`);
    console.log(`| ${s.settings.l2}${mark} | ${s.settings.positiveShare} | ${recall.join(' | ')} | ${(100 * Math.min(...s.recall)).toFixed(1)}% | ${Math.round(s.cleanFlagged * s.cleanCount)} of ${s.cleanCount} |`);
  }
  return chosen.settings;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels({ ...config.models, load: ['blazeface', 'facemesh', 'iris'] });
  const records = cleanRecords().filter(inTrainingSplit);
  const faces = await cleanFaces(records, models, options);
  console.log(`training faces: ${faces.length} (${records.length} photos and their mirror images)`);

  const random = seededRandom(TRAINING_SEED);
  const samples: Sample[] = [];
  let lost = 0;
  for (const [i, face] of faces.entries()) {
    const made = await samplesOf(face, VARIANTS_PER_FACE, DEGRADATIONS_PER_FACE, random, models, options);
    samples.push(...made.samples);
    lost += made.lost;
    if ((i + 1) % 10 === 0) console.log(`  ${i + 1}/${faces.length} faces, ${samples.length} samples`);
  }
  await models.release();

  const labels = samples.map((s) => [...OCCLUSION_REGIONS.map((r) => label(s.coverage[r])), s.glasses ? 1 : 0]);
  const settings = process.argv.includes('--select') ? select(samples, labels) : CHOSEN;
  console.log(`fitting with L2 ${settings.l2}, positives' share ${settings.positiveShare}`);
  const reference = samples.filter((s) => s.kind === 'none').map((s) => s.features);
  const model = fitLogistic(
    samples.map((s) => s.features),
    labels,
    reference,
    { ...TRAINING, ...settings },
  );

  console.log(`samples: ${samples.length} (${reference.length} clean); occluded photos whose face was lost: ${lost}`);
  console.log(`| region | occluded samples | clear samples | training recall @${OCCLUDED_AT} | training false flags @${OCCLUDED_AT} |`);
  console.log('|---|---:|---:|---:|---:|');
  const scores = samples.map((s) => predict(model, s.features));
  OCCLUSION_OUTPUTS.forEach((region, r) => {
    const positives = labels.map((l, n) => [l[r], scores[n][r]]).filter(([y]) => y === 1);
    const negatives = labels.map((l, n) => [l[r], scores[n][r]]).filter(([y]) => y === 0);
    const recall = positives.filter(([, s]) => s >= OCCLUDED_AT).length / positives.length;
    const falseFlags = negatives.filter(([, s]) => s >= OCCLUDED_AT).length / negatives.length;
    console.log(`| ${region} | ${positives.length} | ${negatives.length} | ${(100 * recall).toFixed(1)}% | ${(100 * falseFlags).toFixed(1)}% |`);
  });

  const bytes = logisticToOnnx(model, { graph: 'occlusion', input: 'features', output: 'scores' });
  const dir = join(PROJECT_ROOT, 'models');
  writeFileSync(join(dir, 'occlusion.onnx'), bytes);
  const manifestPath = join(dir, 'manifest.json');
  const manifest = readManifest(manifestPath);
  const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const entry: ManifestEntry = {
    name: 'occlusion',
    file: 'occlusion.onnx',
    sha256: sha256(bytes),
    opset: ONNX_OPSET,
    source: { package: 'facegate', version, file: 'train/occlusion.ts', weights: [] },
    input: { name: 'features', shape: [-1, OCCLUSION_FEATURES], meaning: 'occlusionFeatures() of src/pipeline/occlusion.ts: per region and cell, luminance, chroma and gradient energy relative to the face' },
    outputs: [
      {
        name: 'scores',
        shape: [-1, OCCLUSION_OUTPUTS.length],
        meaning: `probability that each region is covered, in the order ${OCCLUSION_REGIONS.join(', ')}; then that the face wears glasses`,
      },
    ],
    origin: `logistic regression trained by train/occlusion.ts (seed ${TRAINING_SEED}) on synthetic occlusions of the shared photo set`,
    licence: 'MIT (this project)',
  };
  manifest.models = [...manifest.models.filter((m) => m.name !== 'occlusion'), entry];
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`wrote models/occlusion.onnx (${bytes.length} bytes, sha256 ${entry.sha256.slice(0, 16)})`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
