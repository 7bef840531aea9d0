/**
 * `npm run train:quality [-- --collect]`: trains the face-quality model (models/quality.onnx, its
 * manifest entry) and prints the held-out figures of docs/quality.md.
 *
 * Samples: photos of named people (the shared set's identities, faces-extra `identities`) clean
 * and under every degradation of eval/transforms.ts at strengths 1-4; ordinary photos of unnamed
 * people (the shared set's clean frontal one-face photos, faces-extra masks/bare and
 * masks-real/bare) clean and under one seeded random degradation each. Each sample's features are
 * those the service computes (qualityFeatures: fr-feature raw norm, sharpness, inter-pupil
 * distance, exposure, noise, blockiness, pose), measured on the service's own face location.
 *
 * Target: the sample's genuine utility, the mean cosine of its fr-feature embedding with the
 * person's other clean photos. Unnamed people have no other photo: their target is the named
 * people's median clean utility times the sample's cosine with its own clean photo. A logistic
 * regression on the features and their squares (train/logistic.ts) is fitted to it by cross-entropy
 * with soft targets. Cross-validated over people (5 folds; unnamed photos whose clean embeddings
 * agree above 0.9, augmented copies of one photo, share a fold), then fitted on everyone.
 *
 * The features are collected once into scratch/quality-samples.json (about 15 minutes on one core);
 * `--collect` measures them again.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig, PROJECT_ROOT } from '../src/config';
import { hash } from './occlusion-data';
import { writeTrainedModel } from './trained-model';
import { loadModels, type ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, locateFaces } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { meshBox } from '../src/pipeline/landmarks';
import { embedFacesMeasured } from '../src/pipeline/embed';
import { measureGeometry } from '../src/pipeline/geometry';
import { measurePhotometry } from '../src/pipeline/photometry';
import { credit, measuredCredits, QUALITY_FEATURE_NAMES, QUALITY_FEATURES, qualityFeatures, type QualityOptions } from '../src/pipeline/quality';
import type { Geometry, Photometry, RgbImage } from '../src/pipeline/types';
import { extraManifest, extraPath, faceManifest, facePath, isCleanFrontal, isCopy, photoSetOptions } from '../eval/dataset';
import { spearman } from '../eval/metrics';
import { seededRandom } from '../eval/random';
import { DEGRADATIONS } from '../eval/transforms';
import { expand, type LogisticModel, predict, standardisation } from './logistic';
import { logisticToOnnx } from './logistic-onnx';

const SEED = 20261129;
const CACHE = join(PROJECT_ROOT, 'scratch', 'quality-samples.json');
const FOLDS = 5;
const TRAINING = { epochs: 600, rate: 0.03, l2: 0.002 };
/** The authentication threshold (docs/recognition.md): a genuine comparison under it is a false reject. */
const AUTHENTICATE = 0.37;
/** Nodeflux's example IQA threshold, placed where recognition starts to suffer. */
const IQA_THRESHOLD = 0.435;
/** Held-out false-reject share (comparisons under AUTHENTICATE) at which recognition "starts to suffer". */
const SUFFERS_AT = Number(process.env.QUALITY_SUFFERS_AT ?? 0.1);
const ORDINARY_DEGRADED = 1;
/** Weight of an ordinary clean photo in the fit (the photos a gate must let through; see docs/quality.md). */
const ORDINARY_WEIGHT = Number(process.env.QUALITY_ORDINARY_WEIGHT ?? 3);
const weightOf = (s: Sample) => (s.strength === 0 && !s.person ? ORDINARY_WEIGHT : 1);
/**
 * Large sources are cut to a square of FRAME times the face's mesh box around it and reduced to
 * MAX_SIDE first (the shared set reaches 16 MP; degrading and analysing those is slow).
 */
const MAX_SIDE = 640;
const FRAME = 2.5;

type Population = 'shared named' | 'identities' | 'shared clean frontal' | 'masks/bare' | 'masks-real/bare';

interface Sample {
  /** Source photo and its population; `group` is the person (or photo) for the folds. */
  file: string;
  population: Population;
  person: string | null;
  cleanFrontal: boolean;
  degradation: string;
  strength: number;
  /** [norm, log10(1 + sharpness), log2 ipd, brightness, clipped share, noise, blockiness, pose]: qualityFeatures is applied at fitting time. */
  measures: number[];
  features: number[];
  embedding: number[];
  /** Filled after collection. */
  credits?: { sharpness: number; exposure: number };
}

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
};

async function measure(image: RgbImage, models: ModelRegistry, options: AnalysisOptions) {
  const [face] = await locateFaces(image, models, options.detection);
  if (!face) return null;
  const landmarks = face.landmarks;
  const [measured] = await embedFacesMeasured(image, [landmarks], models.get(options.embedding.model), options.embedding);
  const geometry = measureGeometry(landmarks, image, { happy: 0, glasses: 0 }, options.geometry);
  const photometry = measurePhotometry(image, landmarks);
  const inputs = { norm: measured.norm, photometry, geometry };
  const credits = measuredCredits(inputs, options.quality);
  return { measures: [measured.norm, Math.log10(photometry.sharpness + 1), Math.log2(Math.max(geometry.ipd, 1)), photometry.brightness, photometry.underExposed + photometry.overExposed, photometry.noise, photometry.blockiness, Math.max(Math.abs(geometry.yaw), Math.abs(geometry.pitch))], features: [], embedding: [...measured.embedding], credits: { sharpness: credits.sharpness, exposure: credits.exposure } };
}

async function collect(): Promise<Sample[]> {
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels({ ...config.models, load: ['blazeface', 'facemesh', 'iris', 'fr-feature'] });
  const sources: { path: string; file: string; population: Population; person: string | null; cleanFrontal: boolean }[] = [];
  for (const r of faceManifest()) {
    if (r.synthetic || isCopy(r) || r.faces !== 1 || r.occlusion) continue;
    if (r.identity) sources.push({ path: facePath(r.file), file: r.file, population: 'shared named', person: `shared:${r.identity}`, cleanFrontal: isCleanFrontal(r) });
    else if (isCleanFrontal(r)) sources.push({ path: facePath(r.file), file: r.file, population: 'shared clean frontal', person: null, cleanFrontal: true });
  }
  for (const r of extraManifest()) {
    if (r.occlusion) continue;
    if (r.set === 'identities') sources.push({ path: extraPath(r.file), file: r.file, population: 'identities', person: `extra:${r.identity}`, cleanFrontal: false });
    else sources.push({ path: extraPath(r.file), file: r.file, population: r.set === 'masks' ? 'masks/bare' : 'masks-real/bare', person: null, cleanFrontal: true });
  }
  const random = seededRandom(SEED);
  const names = Object.keys(DEGRADATIONS);
  const samples: Sample[] = [];
  const started = Date.now();
  for (const [n, source] of sources.entries()) {
    let image = await decodeImage(readFileSync(source.path), { ...options.limits, maxBytes: Infinity });
    if (Math.max(image.width, image.height) > MAX_SIDE) {
      const [face] = await locateFaces(image, models, options.detection);
      if (!face) continue;
      const box = meshBox(face.landmarks.mesh);
      const side = Math.min(image.width, image.height, Math.round(FRAME * Math.max(box.width, box.height)));
      const left = Math.max(0, Math.min(image.width - side, Math.round(box.x + box.width / 2 - side / 2)));
      const top = Math.max(0, Math.min(image.height - side, Math.round(box.y + box.height / 2 - side / 2)));
      const cut = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .extract({ left, top, width: side, height: side })
        .resize(MAX_SIDE, MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
        .png({ compressionLevel: 1 })
        .toBuffer();
      image = await decodeImage(cut, options.limits);
    }
    const clean = await measure(image, models, options);
    if (!clean) continue;
    const base = { file: source.file, population: source.population, person: source.person, cleanFrontal: source.cleanFrontal };
    samples.push({ ...base, degradation: 'none', strength: 0, ...clean });
    const ipd = 2 ** clean.measures[2];
    const plan: [string, number][] = source.person
      ? names.flatMap((d) => [1, 2, 3, 4].map((k) => [d, k] as [string, number]))
      : Array.from({ length: ORDINARY_DEGRADED }, () => [names[Math.floor(random() * names.length)], 1 + Math.floor(random() * 4)] as [string, number]);
    for (const [degradation, strength] of plan) {
      const degraded = await decodeImage(await DEGRADATIONS[degradation](image, strength, ipd), { ...options.limits, maxBytes: Infinity });
      const m = await measure(degraded, models, options);
      if (m) samples.push({ ...base, degradation, strength, ...m });
    }
    if ((n + 1) % 10 === 0) console.log(`  ${n + 1}/${sources.length} photos, ${samples.length} samples, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  await models.release();
  return samples;
}

/**
 * Which way each feature may move the prediction (QUALITY_FEATURE_NAMES order): +1 more is better
 * (norm, sharpness, resolution), -1 more is worse (blur, darkness, glare, clipping, noise, blocking, pose).
 * The fit keeps each weight on its side and uses no squares, so the score is monotone in every
 * measure: a worse measure never raises it.
 */
const DIRECTIONS = [1, 1, -1, 1, -1, -1, -1, -1, -1, -1];
/** Features whose square the fit may use (none: squares break monotonicity; tried for the norm, worse held out). */
const SQUARED = new Set<number>();

/** Logistic regression fitted to soft targets in [0, 1] by full-batch Adam, weights kept to DIRECTIONS. */
function fitSoft(inputs: number[][], targets: number[], weights: number[], options: typeof TRAINING): LogisticModel {
  const d = inputs[0].length;
  const { mean, std } = standardisation(inputs, 1e-3);
  const phi = inputs.map((x) => expand(Float32Array.from(x), mean, std));
  const p = 2 * d;
  const total = weights.reduce((s, w) => s + w, 0);
  const w = new Float64Array(p + 1);
  const [m, v] = [new Float64Array(p + 1), new Float64Array(p + 1)];
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const grad = new Float64Array(p + 1);
    for (let n = 0; n < phi.length; n++) {
      const x = phi[n];
      let s = w[p];
      for (let i = 0; i < p; i++) s += w[i] * x[i];
      const error = ((1 / (1 + Math.exp(-s)) - targets[n]) * weights[n]) / total;
      for (let i = 0; i < p; i++) grad[i] += error * x[i];
      grad[p] += error;
    }
    for (let i = 0; i < p; i++) grad[i] += options.l2 * w[i];
    for (let i = 0; i <= p; i++) {
      m[i] = 0.9 * m[i] + 0.1 * grad[i];
      v[i] = 0.999 * v[i] + 0.001 * grad[i] * grad[i];
      w[i] -= (options.rate * (m[i] / (1 - 0.9 ** epoch))) / (Math.sqrt(v[i] / (1 - 0.999 ** epoch)) + 1e-8);
    }
    for (let i = 0; i < d; i++) {
      const direction = DIRECTIONS[i] ?? 0;
      if (direction > 0) w[i] = Math.max(0, w[i]);
      if (direction < 0) w[i] = Math.min(0, w[i]);
      if (!SQUARED.has(i)) w[d + i] = 0;
    }
  }
  return { mean, std, weights: Float32Array.from(w.subarray(0, p)), bias: Float32Array.of(w[p]) };
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : Number.NaN;
};
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const logit = (q: number) => Math.log(q / (1 - q));

/** Targets: mean cosine with the person's other clean photos; for unnamed people, scaled cosine with the own clean photo. */
function targets(samples: Sample[]): { y: number[]; genuine: (number[] | null)[]; typical: number } {
  const cleanOf = new Map<string, Sample>();
  for (const s of samples) if (s.strength === 0) cleanOf.set(s.file, s);
  const othersOf = (s: Sample) => (s.person ? [...cleanOf.values()].filter((c) => c.person === s.person && c.file !== s.file) : []);
  const genuine = samples.map((s) => {
    const others = othersOf(s);
    return others.length ? others.map((o) => cosine(s.embedding, o.embedding)) : null;
  });
  const meanOf = (g: number[]) => g.reduce((a, b) => a + b, 0) / g.length;
  const typical = median(samples.flatMap((s, n) => (s.strength === 0 && genuine[n] ? [meanOf(genuine[n] as number[])] : [])));
  const y = samples.map((s, n) => {
    const g = genuine[n];
    if (g) return Math.max(0, Math.min(1, meanOf(g)));
    const clean = cleanOf.get(s.file) as Sample;
    return Math.max(0, Math.min(1, typical * cosine(s.embedding, clean.embedding)));
  });
  return { y, genuine, typical };
}

/** Folds by person; unnamed photos whose clean embeddings agree above 0.9 are one group. */
function folds(samples: Sample[]): number[] {
  const clean = samples.filter((s) => s.strength === 0 && !s.person);
  const parent = new Map<string, string>(clean.map((s) => [s.file, s.file]));
  const find = (f: string): string => (parent.get(f) === f ? f : find(parent.get(f) as string));
  for (let i = 0; i < clean.length; i++)
    for (let j = i + 1; j < clean.length; j++) if (cosine(clean[i].embedding, clean[j].embedding) > 0.9) parent.set(find(clean[i].file), find(clean[j].file));
  return samples.map((s) => hash(s.person ?? find(s.file)) % FOLDS);
}

function crossValidate(samples: Sample[], y: number[], fold: number[]): number[] {
  const held = new Array<number>(samples.length).fill(Number.NaN);
  for (let k = 0; k < FOLDS; k++) {
    const train = samples.map((_, n) => n).filter((n) => fold[n] !== k);
    const model = fitSoft(
      train.map((n) => samples[n].features),
      train.map((n) => y[n]),
      train.map((n) => weightOf(samples[n])),
      TRAINING,
    );
    samples.forEach((s, n) => {
      if (fold[n] === k) held[n] = predict(model, Float32Array.from(s.features))[0];
    });
  }
  return held;
}

/** The curve through (suffers, 0.435) and (good, 0.9), as [value at 0.1, value at 0.9]. */
function mappingThrough(suffers: number, good: number): [number, number] {
  const scale = (good - suffers) / (logit(0.9) - logit(IQA_THRESHOLD));
  const mid = suffers - scale * logit(IQA_THRESHOLD);
  return [mid - scale * Math.log(9), mid + scale * Math.log(9)];
}

function report(label: string, samples: Sample[], genuine: (number[] | null)[], held: number[], options: QualityOptions): { suffers: number; good: number; curve: [number, number] } {
  console.log(`\n### ${label}\n`);
  // Where recognition starts to suffer: the held-out prediction below which a tenth of genuine comparisons fail.
  const named = samples.map((_, n) => ({ p: held[n], g: genuine[n] })).filter((x) => x.g) as { p: number; g: number[] }[];
  named.sort((a, b) => a.p - b.p);
  console.log('| predicted similarity | samples | genuine comparisons under 0.37 |');
  console.log('|---|---:|---:|');
  const edges = [0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 1];
  for (let i = 0; i + 1 < edges.length; i++) {
    const bin = named.filter((x) => x.p >= edges[i] && x.p < edges[i + 1]);
    const comparisons = bin.flatMap((x) => x.g);
    if (bin.length) console.log(`| ${edges[i]}–${edges[i + 1]} | ${bin.length} | ${pct(comparisons.filter((c) => c < AUTHENTICATE).length / comparisons.length)} |`);
  }
  // Lowest prediction from which every higher bin of 100 named samples keeps failures under SUFFERS_AT.
  let suffers = named[0].p;
  for (let i = named.length - 100; i >= 0; i -= 20) {
    const window = named.slice(i, i + 100).flatMap((x) => x.g);
    if (window.filter((c) => c < AUTHENTICATE).length / window.length > SUFFERS_AT) {
      suffers = named[Math.min(named.length - 1, i + 50)].p;
      break;
    }
  }
  const ordinaryClean = samples.map((s, n) => (s.strength === 0 && s.cleanFrontal ? held[n] : Number.NaN)).filter((p) => !Number.isNaN(p));
  const good = median(ordinaryClean);
  const sortedOrdinary = [...ordinaryClean].sort((a, b) => a - b);
  console.log(`clean ordinary faces' held-out predictions: 1st percentile ${sortedOrdinary[Math.floor(0.01 * sortedOrdinary.length)].toFixed(3)}, 2nd ${sortedOrdinary[Math.floor(0.02 * sortedOrdinary.length)].toFixed(3)}, 5th ${sortedOrdinary[Math.floor(0.05 * sortedOrdinary.length)].toFixed(3)}`);
  const curve = options.utility[0] === 0 && options.utility[1] === 0 ? mappingThrough(suffers, good) : options.utility;
  const score = (p: number) => credit(p, curve);
  console.log(`\nrecognition starts to suffer (over ${pct(SUFFERS_AT)} of genuine comparisons under ${AUTHENTICATE}) at predicted similarity ${suffers.toFixed(3)}; median clean ordinary face ${good.toFixed(3)}; utility curve [${curve.map((c) => c.toFixed(4)).join(', ')}]\n`);

  console.log('| population | clean photos | below 0.435 | median score |');
  console.log('|---|---:|---:|---:|');
  const populations: Population[] = ['shared clean frontal', 'masks/bare', 'masks-real/bare', 'shared named', 'identities'];
  for (const pop of populations) {
    const idx = samples.map((_, n) => n).filter((n) => samples[n].strength === 0 && samples[n].population === pop && (pop !== 'shared named' || samples[n].cleanFrontal));
    const scores = idx.map((n) => score(held[n]));
    const label = pop === 'shared named' ? 'shared named, clean frontal' : pop;
    console.log(`| ${label} | ${idx.length} | ${scores.filter((s) => s < IQA_THRESHOLD).length} (${pct(scores.filter((s) => s < IQA_THRESHOLD).length / idx.length)}) | ${median(scores).toFixed(3)} |`);
  }
  const bare = samples.map((_, n) => n).filter((n) => samples[n].strength === 0 && samples[n].cleanFrontal && samples[n].population !== 'shared named' && samples[n].population !== 'identities');
  console.log(`| all bare / clean frontal unnamed | ${bare.length} | ${pct(bare.filter((n) => score(held[n]) < IQA_THRESHOLD).length / bare.length)} | |`);

  console.log('\n| degradation | named photos | mean Spearman (strength vs falling score) | median score at strengths 0..4 | genuine comparisons under 0.37 at 0..4 |');
  console.log('|---|---:|---:|---|---|');
  for (const d of Object.keys(DEGRADATIONS)) {
    const rhos: number[] = [];
    const byStrength: number[][] = [[], [], [], [], []];
    const fails: number[][] = [[], [], [], [], []];
    const files = [...new Set(samples.filter((s) => s.person && s.strength === 0).map((s) => s.file))];
    for (const file of files) {
      const scores = [0, 1, 2, 3, 4].map((k) => {
        const n = samples.findIndex((s) => s.file === file && (k === 0 ? s.strength === 0 : s.degradation === d && s.strength === k));
        if (n < 0) return 0; // the face was lost
        for (const g of genuine[n] ?? []) fails[k].push(g < AUTHENTICATE ? 1 : 0);
        return score(held[n]);
      });
      scores.forEach((s, k) => byStrength[k].push(s));
      rhos.push(-spearman([0, 1, 2, 3, 4], scores));
    }
    const mean = rhos.filter((r) => !Number.isNaN(r)).reduce((a, b) => a + b, 0) / rhos.filter((r) => !Number.isNaN(r)).length;
    console.log(`| ${d} | ${files.length} | ${mean.toFixed(3)} | ${byStrength.map((b) => median(b).toFixed(2)).join(' → ')} | ${fails.map((f) => pct(f.reduce((a, b) => a + b, 0) / f.length)).join(', ')} |`);
  }

  // Error versus discard on real genuine pairs among the named people's clean photos.
  const clean = samples.map((_, n) => n).filter((n) => samples[n].person && samples[n].strength === 0);
  const pairs: { sim: number; q: number; base: number }[] = [];
  for (let i = 0; i < clean.length; i++)
    for (let j = i + 1; j < clean.length; j++) {
      const [a, b] = [samples[clean[i]], samples[clean[j]]];
      if (a.person !== b.person) continue;
      pairs.push({
        sim: cosine(a.embedding, b.embedding),
        q: Math.min(held[clean[i]], held[clean[j]]),
        base: Math.min((a.credits?.sharpness ?? 0) * (a.credits?.exposure ?? 0), (b.credits?.sharpness ?? 0) * (b.credits?.exposure ?? 0)),
      });
    }
  const fnmr = (key: 'q' | 'base', share: number, threshold: number) => {
    const kept = [...pairs].sort((p, q) => p[key] - q[key]).slice(Math.round(share * pairs.length));
    return kept.filter((p) => p.sim < threshold).length / kept.length;
  };
  for (const threshold of [AUTHENTICATE, 0.5]) {
    console.log(`\nerror versus discard, ${pairs.length} genuine pairs of clean photos, threshold ${threshold}: | discarded | FNMR by held-out quality | FNMR by sharpness×exposure |`);
    for (const share of [0, 0.05, 0.1, 0.2, 0.3]) console.log(`| ${pct(share)} | ${pct(fnmr('q', share, threshold))} | ${pct(fnmr('base', share, threshold))} |`);
  }
  // The same on every named sample, clean or degraded, against the person's other clean photos.
  const comparisons = samples.flatMap((s, n) =>
    (genuine[n] ?? []).map((sim) => ({ sim, q: held[n], base: (s.credits?.sharpness ?? 0) * (s.credits?.exposure ?? 0) })),
  );
  const fnmrAll = (key: 'q' | 'base', share: number) => {
    const kept = [...comparisons].sort((p, q) => p[key] - q[key]).slice(Math.round(share * comparisons.length));
    return kept.filter((p) => p.sim < AUTHENTICATE).length / kept.length;
  };
  console.log(`\nerror versus discard, ${comparisons.length} genuine comparisons of named samples (clean and degraded) with the person's other clean photos, threshold ${AUTHENTICATE}: | discarded | FNMR by held-out quality | FNMR by sharpness×exposure |`);
  for (const share of [0, 0.05, 0.1, 0.2, 0.3]) console.log(`| ${pct(share)} | ${pct(fnmrAll('q', share))} | ${pct(fnmrAll('base', share))} |`);
  return { suffers, good, curve };
}

async function main(): Promise<void> {
  mkdirSync(join(PROJECT_ROOT, 'scratch'), { recursive: true });
  let samples: Sample[];
  if (process.argv.includes('--collect') || !existsSync(CACHE)) {
    samples = await collect();
    writeFileSync(CACHE, JSON.stringify(samples));
  } else samples = JSON.parse(readFileSync(CACHE, 'utf8')) as Sample[];
  for (const s of samples) {
    const [norm, sharpness, ipd, brightness, clipped, noise, blockiness, pose] = s.measures ?? s.features;
    s.measures = [norm, sharpness, ipd, brightness, clipped, noise, blockiness, pose];
    const photometry = { brightness, underExposed: clipped, overExposed: 0, sharpness: 10 ** sharpness - 1, noise, blockiness } as Photometry;
    s.features = [...qualityFeatures({ norm, photometry, geometry: { ipd: 2 ** ipd, yaw: pose, pitch: 0 } as Geometry })];
  }
  const config = loadConfig();
  const { y, genuine, typical } = targets(samples);
  const fold = folds(samples);
  console.log(`samples: ${samples.length} (${samples.filter((s) => s.strength === 0).length} clean photos); named people's median clean utility ${typical.toFixed(3)}; folds ${[...Array(FOLDS).keys()].map((k) => fold.filter((f) => f === k).length).join(', ')}`);
  const fresh = { ...config.pipeline.quality, utility: [0, 0] as [number, number] };
  const chosen = report('held out by person', samples, genuine, crossValidate(samples, y, fold), fresh);
  if (process.argv.includes('--norm-only')) {
    const normOnly = samples.map((s) => ({ ...s, features: s.features.map((f, i) => (i === 0 ? f : 0)) }));
    report('held out by person: fr-feature raw norm alone', normOnly, genuine, crossValidate(normOnly, y, fold), fresh);
  }

  const model = fitSoft(samples.map((s) => s.features), y, samples.map(weightOf), TRAINING);
  const weights = [...QUALITY_FEATURE_NAMES].map((name, i) => `${name}: ${model.weights[i].toFixed(3)} / ${model.weights[QUALITY_FEATURES + i].toFixed(3)}`);
  console.log(`\nfitted on all ${samples.length} samples; weights (standardised, squared): ${weights.join('; ')}; bias ${model.bias[0].toFixed(3)}`);
  console.log(`config pipeline.quality.utility: [${chosen.curve.map((c) => Number(c.toFixed(4))).join(', ')}]`);

  const bytes = logisticToOnnx(model, { graph: 'quality', input: 'features', output: 'scores' });
  writeTrainedModel('quality', 'train/quality.ts', bytes, {
    input: { name: 'features', shape: [-1, QUALITY_FEATURES], meaning: `qualityFeatures() of src/pipeline/quality.ts: ${QUALITY_FEATURE_NAMES.join(', ')}` },
    outputs: [{ name: 'scores', shape: [-1, 1], meaning: 'predicted mean cosine of the face\'s fr-feature embedding with other photos of the same person; config pipeline.quality.utility maps it onto the IQA score' }],
    origin: `logistic regression trained by train/quality.ts (seed ${SEED}) on degraded copies of named people's photos and bare faces of the shared sets`,
    licence: 'MIT (this project)',
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
