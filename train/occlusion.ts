/**
 * `npm run train:occlusion`: trains the occlusion model from scratch and writes models/occlusion.onnx
 * and its manifest entry. Reproducible: the same photo sets and seed give the same model.
 *
 * Faces: the one-face, unoccluded, real photos of the shared set whose identity falls in the
 * training split (70%, by a hash of the identity), each also mirrored; and, when
 * ../shared/data/faces-extra is present, its masks and masks-real folders: the bare faces, and the
 * masked faces as real positives for mouth, nose, chin and cheeks. Bare faces get synthetic
 * occluders (dark glasses, clear eyeglasses, masks, scarves, skin-coloured hands, caps, textured
 * patches) drawn at mesh-derived positions; the occluded photo goes through the real detector and
 * landmarks, and its occlusion features (fr-feature-maps pooled per region, and attempt 1's
 * hand-made ones for comparison) are labelled with how much of each region the occluder
 * covers (the clean mesh outlines the regions): at least half covered = occluded, under 10% =
 * clear, between = unused. Clear eyeglasses are labelled clear everywhere (docs/occlusion.md).
 *
 * `npm run train:occlusion -- --select` first scores attempt 1's hand-made features with attempt
 * 1's chosen setting, then chooses the L2 strength and the positives' share for the learned
 * features, both by 4-fold cross-validation over people (the shared set's identities,
 * faces-extra's groups of same-photo and same-person files, train/occlusion-selection.ts), scores
 * other pooled parts with the chosen setting, then fits the chosen setting on all of them;
 * without it, the setting chosen that way last time is used. `--cache DIR` (or
 * FACEGATE_OCCLUSION_CACHE) keeps each photo's samples for the next run; `--shard k/n` only makes
 * the samples of every n-th photo into the cache, so several processes can share the work;
 * `--cached-only` uses the photos the cache holds and makes none.
 */
import { loadConfig } from '../src/config';
import { EXTRA_DIR, extraAvailable, faceManifest, isCopy, photoSetOptions } from '../eval/dataset';
import { loadModels } from '../src/models/registry';
import { OCCLUSION_FEATURES, OCCLUSION_OUTPUTS, OCCLUSION_PARTS, OCCLUSION_REGIONS, type PooledPart, pooledView } from '../src/pipeline/occlusion';
import { predict } from './logistic';
import { writeTrainedModel } from './trained-model';
import { fitLogisticOnnx } from './occlusion-fit';
import { logisticToOnnx } from './logistic-onnx';
import {
  cachedUnitSamples,
  cleanRecords,
  extraUnits,
  groupPeople,
  hash,
  inTrainingSplit,
  labelsOf,
  MASKED_POPULATIONS,
  OCCLUDED_AT,
  POPULATIONS,
  type Sample,
  sharedUnits,
  TRAINING_SEED,
  type UnitResult,
  unitSamples,
} from './occlusion-data';
import { choose, crossValidate, type FitSettings, foldsOf, sampleWeights } from './occlusion-selection';

/** Drawn occluders and degradations per shared-set face (and its mirror image), and per faces-extra bare face. */
const SHARED_VARIANTS = 12;
const SHARED_DEGRADATIONS = 3;
const EXTRA_VARIANTS = 6;
const EXTRA_DEGRADATIONS = 1;
/**
 * faces-extra faces of one population whose fr-feature embeddings are at least this similar are
 * one person: docs/recognition.md's duplicate-search level for the portraits of masks/bare, where
 * augmented copies sit above 0.9 and other pairs rarely pass 0.5; higher for the tight crops and
 * masked faces, which are more alike whoever they show (docs/occlusion.md).
 */
const GROUP_SIMILARITY: Record<string, number> = { 'masks-bare': 0.5, 'real-bare': 0.7, 'masks-masked': 0.7, 'real-masked': 0.7 };
const TRAINING = { epochs: 400, rate: 0.02 };
/** Chosen by `--select` (docs/occlusion.md gives the cross-validation table). */
const CHOSEN: FitSettings = { l2: 0.1, positiveShare: 0.4, cleanWeight: 5 };
/**
 * The settings `--select` compares, bare photos weighing 5 times any other negative sample (which
 * helped in every setting of attempt 1). The learned features want far less L2 than attempt 1's
 * hand-made ones (1.2 there); the share 0.6 at L2 0.3 was left out for time (docs/occlusion.md).
 */
const GRID: FitSettings[] = [
  ...[0.01, 0.03, 0.1].flatMap((l2) => [0.4, 0.5, 0.6].map((positiveShare) => ({ l2, positiveShare, cleanWeight: 5 }))),
  ...[0.3].flatMap((l2) => [0.4, 0.5].map((positiveShare) => ({ l2, positiveShare, cleanWeight: 5 }))),
];
/** Other pooled parts, scored with the chosen setting after the grid (for comparison; the model reads OCCLUSION_PARTS). */
const OTHER_PARTS: PooledPart[][] = [['mean14', 'max14'], ['mean14', 'mean7']];
/** Attempt 1's chosen setting for its hand-made features, scored beside GRID on the same folds. */
const HANDMADE_CHOSEN: FitSettings = { l2: 1.2, positiveShare: 0.4, cleanWeight: 5 };
const FOLDS = 4;
/** The population drawn clear eyeglasses are tallied in by `--select`. */
const EYEGLASSES = 'drawn clear eyeglasses';
/** Issue 18's limit on bare faces flagged occluded. */
const MAX_CLEAN_FLAGGED = 0.03;
/** Bumped when the sample-making code changes, so cached samples are not reused. */
const SAMPLES_VERSION = 'v2+deep1';

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

async function select(samples: Sample[], labels: number[][], features: (s: Sample) => Float32Array, grid: FitSettings[]): Promise<FitSettings> {
  const fold = foldsOf(samples.map((s) => s.person), FOLDS, hash);
  const sizes = [...Array(FOLDS).keys()].map((k) => [...fold.values()].filter((f) => f === k).length);
  console.log(`cross-validation: ${fold.size} people in ${FOLDS} folds of ${sizes.join(', ')}; ${grid.length} settings`);
  const scores = await crossValidate(
    samples.map((s, n) => ({
      person: s.person,
      features: features(s),
      labels: labels[n],
      clean: s.kind === 'none' && !MASKED_POPULATIONS.includes(s.population ?? 'shared'),
      covered: s.kind === 'none' && MASKED_POPULATIONS.includes(s.population ?? 'shared'),
      // Drawn clear eyeglasses are tallied apart: no region of them should be flagged.
      population: s.kind === 'eyeglasses' ? EYEGLASSES : (s.population ?? 'shared'),
      tallied: s.kind === 'eyeglasses',
    })),
    fold,
    grid,
    TRAINING,
    OCCLUSION_REGIONS.length,
    OCCLUDED_AT,
    console.log,
    fitLogisticOnnx,
  );
  const chosen = choose(scores, MAX_CLEAN_FLAGGED);
  console.log(`| L2 | positives' share | ${OCCLUSION_REGIONS.join(' | ')} | lowest | bare faces flagged |`);
  console.log(`|---:|---:|${OCCLUSION_REGIONS.map(() => '---:|').join('')}---:|---:|`);
  for (const s of scores) {
    const mark = s === chosen ? ' (chosen)' : '';
    console.log(`| ${s.settings.l2}${mark} | ${s.settings.positiveShare}${s.settings.cleanWeight ? ` (bare photos x${s.settings.cleanWeight})` : ''} | ${s.recall.map(pct).join(' | ')} | ${pct(Math.min(...s.recall))} | ${Math.round(s.cleanFlagged * s.cleanCount)} of ${s.cleanCount} (${pct(s.cleanFlagged)}) |`);
  }
  const tallied = [...POPULATIONS, EYEGLASSES];
  console.log(`| L2 | positives' share | ${tallied.join(' | ')} |`);
  console.log(`|---:|---:|${tallied.map(() => '---:|').join('')}`);
  for (const s of scores) {
    const cells = tallied.map((p) => {
      const t = s.populations[p];
      return t ? `${t.flagged} of ${t.count} (${pct(t.flagged / t.count)})` : '-';
    });
    console.log(`| ${s.settings.l2} | ${s.settings.positiveShare}${s.settings.cleanWeight ? ` (bare photos x${s.settings.cleanWeight})` : ''} | ${cells.join(' | ')} |`);
  }
  return chosen.settings;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels({ ...config.models, load: ['blazeface', 'facemesh', 'iris', 'fr-feature-maps', options.embedding.model] });
  const cacheDir = argument('--cache') ?? process.env.FACEGATE_OCCLUSION_CACHE;
  const shared = cleanRecords();
  const training = sharedUnits(shared.filter(inTrainingSplit), SHARED_VARIANTS, SHARED_DEGRADATIONS);
  const extra = extraAvailable ? extraUnits(EXTRA_VARIANTS, EXTRA_DEGRADATIONS) : [];
  if (!extraAvailable) console.log(`faces-extra not found at ${EXTRA_DIR}: training on the shared set only`);
  // Checks only, never trained on: the shared set's held-out people and its real masked photos.
  const maskedRecords = faceManifest().filter((r) => r.faces === 1 && r.occlusion?.includes('mask') && !isCopy(r));
  const checks = [
    ...sharedUnits(shared.filter((r) => !inTrainingSplit(r)), 0, 0, 'shared-heldout').filter((u) => !u.mirrored),
    ...sharedUnits(maskedRecords, 0, 0, 'shared-masked').filter((u) => !u.mirrored),
  ];
  const units = [...training, ...extra, ...checks];

  const shard = argument('--shard');
  const [part, parts] = shard ? shard.split('/').map(Number) : [0, 1];
  // Photos are made in the order of a hash of their name, so that a cache filled part of the way holds a sample of every population.
  const order = [...units.keys()].sort((a, b) => hash(`${units[a].file}|${units[a].mirrored}`) - hash(`${units[b].file}|${units[b].mirrored}`));
  const made: (UnitResult | undefined)[] = new Array(units.length);
  let count = 0;
  for (const [rank, i] of order.entries()) {
    if (rank % parts !== part) continue;
    made[i] = process.argv.includes('--cached-only') ? cachedUnitSamples(units[i], cacheDir, SAMPLES_VERSION) : await unitSamples(units[i], models, options, cacheDir, SAMPLES_VERSION);
    if (++count % 50 === 0) console.log(`  ${count} photos`);
  }
  const results = made.filter((r): r is UnitResult => r !== undefined);
  await models.release();
  if (shard) {
    console.log(`shard ${shard}: ${results.length} photos made into ${cacheDir}`);
    return;
  }

  const all = [...new Set(units.map((u) => u.population))];
  console.log('| population | photos | located | not located | samples |');
  console.log('|---|---:|---:|---:|---:|');
  for (const p of all) {
    const of = results.filter((r) => r.unit.population === p);
    const located = of.filter((r) => r.located).length;
    console.log(`| ${p} | ${of.length} | ${located} | ${of.length - located} | ${of.reduce((n, r) => n + r.samples.length, 0)} |`);
  }
  const people = groupPeople(
    results.filter((r) => r.located && r.unit.file.startsWith('masks')).map((r) => ({ file: r.unit.file, population: r.unit.population, embedding: r.embedding })),
    GROUP_SIMILARITY,
  );
  const groupSizes = new Map<string, number>();
  for (const person of people.values()) groupSizes.set(person, (groupSizes.get(person) ?? 0) + 1);
  const sizes = [...groupSizes.values()].sort((a, b) => b - a);
  console.log(`faces-extra: ${people.size} located photos in ${groupSizes.size} groups (largest ${sizes.slice(0, 5).join(', ')}; ${sizes.filter((n) => n === 1).length} alone)`);
  const trainingPopulations: readonly string[] = POPULATIONS;
  const samples: Sample[] = results
    .filter((r) => trainingPopulations.includes(r.unit.population))
    .flatMap((r) => r.samples.map((s) => ({ ...s, person: people.get(r.unit.file) ?? r.unit.person })));
  const lost = results.reduce((n, r) => n + r.lost, 0);
  const labels = samples.map(labelsOf);
  const features = samples.map((s) => pooledView(s.pooled, OCCLUSION_PARTS));
  const inputOf = new Map(samples.map((s, n) => [s, features[n]]));
  let settings = CHOSEN;
  if (process.argv.includes('--select')) {
    // Attempt 1's features and chosen setting first, on the same samples and folds, for comparison (docs/occlusion.md).
    console.log("attempt 1's hand-made features, its chosen setting:");
    await select(samples, labels, (s) => s.handmade, [HANDMADE_CHOSEN]);
    console.log(`learned features (${OCCLUSION_PARTS.join(', ')}):`);
    settings = await select(samples, labels, (s) => inputOf.get(s) as Float32Array, GRID);
    for (const parts of OTHER_PARTS) {
      console.log(`learned features (${parts.join(', ')}), the chosen setting:`);
      await select(samples, labels, (s) => pooledView(s.pooled, parts), [settings]);
    }
  }
  console.log(`fitting with L2 ${settings.l2}, positives' share ${settings.positiveShare}`);
  const reference = samples.filter((s) => s.kind === 'none' && !MASKED_POPULATIONS.includes(s.population ?? 'shared')).map((s) => inputOf.get(s) as Float32Array);
  const clean = samples.map((s) => ({ clean: s.kind === 'none' && !MASKED_POPULATIONS.includes(s.population ?? 'shared') }));
  const model = await fitLogisticOnnx(
    features,
    labels,
    reference,
    { ...TRAINING, l2: settings.l2, positiveShare: settings.positiveShare, weights: sampleWeights(clean, settings) },
  );

  console.log(`samples: ${samples.length} (${reference.length} clean); occluded photos whose face was lost: ${lost}`);
  console.log(`| region | occluded samples | clear samples | training recall @${OCCLUDED_AT} | training false flags @${OCCLUDED_AT} |`);
  console.log('|---|---:|---:|---:|---:|');
  const scores = features.map((x) => predict(model, x));
  OCCLUSION_OUTPUTS.forEach((region, r) => {
    const positives = labels.map((l, n) => [l[r], scores[n][r]]).filter(([y]) => y === 1);
    const negatives = labels.map((l, n) => [l[r], scores[n][r]]).filter(([y]) => y === 0);
    const recall = positives.filter(([, s]) => s >= OCCLUDED_AT).length / positives.length;
    const falseFlags = negatives.filter(([, s]) => s >= OCCLUDED_AT).length / negatives.length;
    console.log(`| ${region} | ${positives.length} | ${negatives.length} | ${(100 * recall).toFixed(1)}% | ${(100 * falseFlags).toFixed(1)}% |`);
  });

  // Photos never trained on: the shared set's held-out people (clean) and its real masked photos.
  console.log(`| check (never trained on) | photos located | flagged occluded @${OCCLUDED_AT} |`);
  console.log('|---|---:|---:|');
  for (const population of ['shared-heldout', 'shared-masked'] as const) {
    const photos = results.filter((r) => r.unit.population === population && r.located).map((r) => r.samples[0]);
    const flagged = photos.filter((s) => Array.from(predict(model, pooledView(s.pooled, OCCLUSION_PARTS)).slice(0, OCCLUSION_REGIONS.length)).some((x) => x >= OCCLUDED_AT));
    console.log(`| ${population} | ${photos.length} | ${flagged.length} (${pct(flagged.length / Math.max(1, photos.length))}) |`);
    if (population === 'shared-masked') console.log(`  not flagged: ${photos.filter((s) => !flagged.includes(s)).map((s) => s.person).join(', ') || 'none'}`);
  }

  const bytes = logisticToOnnx(model, { graph: 'occlusion', input: 'features', output: 'scores' });
  writeTrainedModel('occlusion', 'train/occlusion.ts', bytes, {
    input: { name: 'features', shape: [-1, OCCLUSION_FEATURES], meaning: `occlusionFeatures() of src/pipeline/occlusion.ts: per region, fr-feature-maps' ${OCCLUSION_PARTS.join(', ')} pooled over the region's polygon in the aligned crop, 128 channels each` },
    outputs: [
      {
        name: 'scores',
        shape: [-1, OCCLUSION_OUTPUTS.length],
        meaning: `probability that each region is covered, in the order ${OCCLUSION_REGIONS.join(', ')}; then that the face wears glasses`,
      },
    ],
    origin: `logistic regression over fr-feature-maps pooled per region, trained by train/occlusion.ts (seed ${TRAINING_SEED}) on synthetic occlusions of the shared photo set's training people and faces-extra's bare faces, with faces-extra's masked faces as real positives (L2 ${settings.l2}, positives' share ${settings.positiveShare}, bare photos weighing ${settings.cleanWeight ?? 1})`,
    licence: 'MIT (this project)',
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
