/**
 * `npm run eval:liveness [-- --out docs/liveness-models.md] [--extra N]`: fr-liveness (the faceplugin
 * package's fr_liveness.onnx) against the two liveness models the service already runs, antispoof and
 * liveness. Measures which channel order and which class of fr-liveness reads real photos as live, then
 * the real faces each model rejects (BPCER) and the attacks it lets through (APCER): the shared photo
 * set's real one-face photos and its few attack-like ones, real bare faces of faces-extra (all of them, or
 * N per folder with --extra N), and recapture-like attacks synthesised here from real photos. Prints Markdown.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadConfig } from '../src/config';
import { loadModels } from '../src/models/registry';
import { analyze } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { meshBox } from '../src/pipeline/landmarks';
import { FR_LIVENESS_DEFAULTS, frLivenessProbabilities } from '../src/pipeline/liveness';
import type { RgbImage } from '../src/pipeline/types';
import { extraAvailable, extraManifest, extraPath, FACES_DIR, type FaceRecord, faceManifest, facePath, facesAvailable, isCleanFrontal, photoSetOptions } from './dataset';
import { markdownReport, runScript } from './markdown';
import { seededRandom } from './random';

const ATTACK_TAGS = ['cgi', 'cartoon', 'screen_recapture'];
const MODELS = ['antispoof', 'liveness', 'fr-liveness'] as const;
type Model = (typeof MODELS)[number];

const { say, table, finish } = markdownReport();
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const f3 = (x: number) => x.toFixed(3);

interface Scored {
  name: string;
  population: string;
  /** Absent when the pipeline found no face. */
  scores?: Record<Model, number>;
  /** fr-liveness softmax for each channel order and box. */
  probe?: Record<'rgb-mesh' | 'bgr-mesh' | 'rgb-detection' | 'bgr-detection', number[]>;
  /** The enlargement of the face box the image leaves room for, at most 2.7 (the package's crop shrinks to fit). */
  cropScale?: number;
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ---- synthetic recapture-like attacks (made here from real photos; not real attacks) ----

async function raw(bytes: Buffer, longSide: number): Promise<RgbImage> {
  const { data, info } = await sharp(bytes).rotate().resize(longSide, longSide, { fit: 'inside', withoutEnlargement: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

const toSharp = (image: RgbImage) => sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 3 } });
const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** A photo shown on a screen and photographed: sub-pixel stripes, moire beat, gamma, blue cast, blur, JPEG. */
async function screenRecapture(bytes: Buffer, seed: number): Promise<Buffer> {
  const image = await raw(bytes, 640);
  const random = seededRandom(seed);
  const period = 2.6 + random() * 1.5;
  const angle = 0.2 + random() * 0.5;
  const out = new Uint8Array(image.data.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const moire = 1 + 0.18 * Math.sin((2 * Math.PI * (x * Math.cos(angle) + y * Math.sin(angle))) / period);
      const row = y % 3 === 2 ? 0.8 : 1;
      for (let c = 0; c < 3; c++) {
        const sub = x % 3 === c ? 1.12 : 0.9;
        const v = 255 * (image.data[(y * image.width + x) * 3 + c] / 255) ** 0.8;
        const cast = [0.92, 1, 1.1][c];
        out[(y * image.width + x) * 3 + c] = clamp(v * moire * row * sub * cast + 12);
      }
    }
  }
  return toSharp({ ...image, data: out }).blur(0.8).jpeg({ quality: 55 }).toBuffer();
}

/** A printed photo photographed: washed-out contrast, yellow paper, paper grain, halftone dots, soft focus. */
async function paperPrint(bytes: Buffer, seed: number): Promise<Buffer> {
  const image = await raw(bytes, 640);
  const random = seededRandom(seed);
  const out = new Uint8Array(image.data.length);
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const dot = 1 + 0.08 * Math.cos((2 * Math.PI * (x + y)) / 4) * Math.cos((2 * Math.PI * (x - y)) / 4);
      const grain = (random() - 0.5) * 18;
      const i = (y * image.width + x) * 3;
      const grey = 0.3 * image.data[i] + 0.59 * image.data[i + 1] + 0.11 * image.data[i + 2];
      for (let c = 0; c < 3; c++) {
        const desaturated = 0.6 * image.data[i + c] + 0.4 * grey;
        const paper = [1.02, 0.98, 0.82][c];
        out[i + c] = clamp((35 + desaturated * 0.72) * paper * dot + grain);
      }
    }
  }
  return toSharp({ ...image, data: out }).blur(1.2).jpeg({ quality: 70 }).toBuffer();
}

/** Re-photographed at low quality: downscaled, blurred, colour cast, heavy JPEG. */
async function lowQualityCopy(bytes: Buffer): Promise<Buffer> {
  const image = await raw(bytes, 320);
  const jpeg = await toSharp(image).blur(1.5).linear([1.15, 1.0, 0.8], [10, 0, -5]).jpeg({ quality: 15 }).toBuffer();
  return sharp(jpeg).resize(image.width * 2).jpeg({ quality: 25 }).toBuffer();
}

const ATTACKS: { kind: string; make: (bytes: Buffer, seed: number) => Promise<Buffer> }[] = [
  { kind: 'screen', make: screenRecapture },
  { kind: 'print', make: paperPrint },
  { kind: 'low-quality copy', make: lowQualityCopy },
];

// ---- metrics ----

/** Probability that a random real face scores above a random attack (ties count half). */
function auc(real: number[], attacks: number[]): number {
  let wins = 0;
  for (const r of real) for (const a of attacks) wins += r > a ? 1 : r === a ? 0.5 : 0;
  return real.length && attacks.length ? wins / (real.length * attacks.length) : NaN;
}

const bpcer = (real: number[], t: number) => real.filter((s) => s < t).length;
const apcer = (attacks: number[], t: number) => attacks.filter((s) => s >= t).length;

/** The highest threshold at which at most `share` of `real` is rejected (scores below it). */
function thresholdFor(real: number[], share: number): number {
  const sorted = [...real].sort((a, b) => a - b);
  const allowed = Math.floor(share * sorted.length);
  // Rejecting exactly the `allowed` lowest: the threshold is the next score (ties kept on the live side).
  return sorted[Math.min(allowed, sorted.length - 1)];
}

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels({ ...config.models, load: [...config.models.load, 'fr-liveness'] });
  const fr = models.get('fr-liveness');
  const extraLimit = argValue('--extra') === undefined ? Infinity : Number(argValue('--extra'));
  const synthCount = Number(argValue('--synthetic') ?? 20);
  const started = Date.now();

  const scoreImage = async (bytes: Buffer, name: string, population: string): Promise<Scored> => {
    const analysis = await analyze(bytes, models, options);
    const face = analysis.faces[0];
    if (!face) return { name, population };
    // Unshrunk: the analysis reports landmarks in the original image's pixels.
    const image = await decodeImage(bytes, { ...options.limits, analysisPixels: options.limits.maxPixels });
    const [rgbMesh, bgrMesh, rgbDet, bgrDet] = await Promise.all([
      frLivenessProbabilities(image, [face.landmarks], fr, { scale: 2.7, channels: 'rgb' }),
      frLivenessProbabilities(image, [face.landmarks], fr, { scale: 2.7, channels: 'bgr' }),
      frLivenessProbabilities(image, [face.detection], fr, { scale: 2.7, channels: 'rgb' }),
      frLivenessProbabilities(image, [face.detection], fr, { scale: 2.7, channels: 'bgr' }),
    ]);
    const box = meshBox(face.landmarks.mesh);
    const cropScale = Math.min((image.height - 1) / box.height, (image.width - 1) / box.width, FR_LIVENESS_DEFAULTS.scale);
    const chosen = { 'rgb-mesh': rgbMesh, 'bgr-mesh': bgrMesh }[`${FR_LIVENESS_DEFAULTS.channels}-mesh` as const][0];
    return {
      name,
      population,
      scores: { antispoof: face.liveness.antispoof, liveness: face.liveness.liveness, 'fr-liveness': chosen[FR_LIVENESS_DEFAULTS.liveClass] },
      probe: { 'rgb-mesh': rgbMesh[0], 'bgr-mesh': bgrMesh[0], 'rgb-detection': rgbDet[0], 'bgr-detection': bgrDet[0] },
      cropScale,
    };
  };

  const scored: Scored[] = [];
  const records = faceManifest();
  const isAttack = (r: FaceRecord) => r.synthetic || r.tags.some((t) => ATTACK_TAGS.includes(t));
  for (const r of records.filter((r) => r.faces === 1)) {
    scored.push(await scoreImage(readFileSync(facePath(r.file)), r.file, isAttack(r) ? 'shared attack-like' : 'shared real'));
  }
  if (extraAvailable) {
    const extra = extraManifest();
    for (const folder of ['masks/bare/', 'masks-real/bare/']) {
      const rows = extra.filter((e) => e.file.startsWith(folder) && !e.occlusion).slice(0, extraLimit);
      for (const e of rows) scored.push(await scoreImage(readFileSync(extraPath(e.file)), e.file, `${folder.replace(/\/$/, '')} (real)`));
    }
  }
  const sources = records.filter(isCleanFrontal).slice(0, synthCount);
  for (const [i, r] of sources.entries()) {
    const bytes = readFileSync(facePath(r.file));
    for (const attack of ATTACKS) scored.push(await scoreImage(await attack.make(bytes, i + 1), `${attack.kind}: ${r.file}`, `synthetic ${attack.kind}`));
  }
  await models.release();
  const seconds = Math.round((Date.now() - started) / 1000);

  const populations = [...new Set(scored.map((s) => s.population))];
  const found = scored.filter((s): s is Required<Scored> => s.scores !== undefined);
  const isReal = (s: Scored) => s.population.endsWith('(real)') || s.population === 'shared real';
  const real = found.filter(isReal);
  const sharedReal = found.filter((s) => s.population === 'shared real');
  const attacks = found.filter((s) => !isReal(s));

  say('# Liveness models: antispoof, liveness and fr-liveness');
  say();
  say(`Produced by \`npm run eval:liveness -- --out docs/liveness-models.md\` (${seconds} s) with the service's own analysis (default configuration, largest face). antispoof and liveness are the service's \`livenessScores\`; fr-liveness is \`frLivenessScores\` in src/pipeline/liveness.ts, the model file \`model/fr_liveness.onnx\` of faceplugin-face-recognition-js 0.0.1, cropped as the package crops (face box enlarged 2.7 times, clamped inside the image, stretched to 128x128, raw 0..255). The face box here is the FaceMesh bounding box (the package uses its own detector, which this service does not run). Not part of any decision of the service.`);
  say();
  say('Images (one-face images only; "no face" = the pipeline found no face, so no model ran):');
  say();
  table(
    ['population', 'images', 'no face', 'scored'],
    populations.map((p) => {
      const all = scored.filter((s) => s.population === p);
      return [p, all.length, all.filter((s) => !s.scores).length, all.filter((s) => s.scores).length];
    }),
  );

  say('## fr-liveness: channel order and live class');
  say();
  say(`The package's code feeds the canvas's RGB and reports softmax class 0 as liveness. The model has three classes and is MiniFASNet-like; MiniFASNet (Silent-Face-Anti-Spoofing) is trained on OpenCV BGR crops with class 1 = real. Measured on the ${sharedReal.length} real one-face photos of the shared set and the ${real.length - sharedReal.length} real bare faces of faces-extra, which should overwhelmingly be live: mean softmax per class, and how many faces each class wins.`);
  say();
  const probeRows: (string | number)[][] = [];
  for (const [label, set] of [
    ['shared real', sharedReal],
    ['all real', real],
  ] as const) {
    for (const key of ['rgb-mesh', 'bgr-mesh', 'rgb-detection', 'bgr-detection'] as const) {
      const mean = [0, 1, 2].map((c) => set.reduce((a, s) => a + s.probe[key][c], 0) / set.length);
      const wins = [0, 1, 2].map((c) => set.filter((s) => s.probe[key].indexOf(Math.max(...s.probe[key])) === c).length);
      const separation = [0, 1].map((c) => f3(auc(set.map((s) => s.probe[key][c]), attacks.map((s) => s.probe[key][c]))));
      probeRows.push([label, set.length, key.replace('-', ', ') + ' box', ...mean.map(f3), ...wins, ...separation]);
    }
  }
  table(['faces', 'n', 'input', 'mean p0', 'mean p1', 'mean p2', 'class 0 wins', 'class 1 wins', 'class 2 wins', 'AUC vs attacks, p0 as score', 'AUC vs attacks, p1 as score'], probeRows);
  say('AUC: the probability that a real face scores higher than an attack (all attack images below, mostly synthetic; 0.5 = no separation).');
  say();
  const attackProbe = (key: 'rgb-mesh' | 'bgr-mesh') => [0, 1, 2].map((c) => f3(attacks.reduce((a, s) => a + s.probe[key][c], 0) / attacks.length));
  say(`On the ${attacks.length} attack images (shared attack-like and synthetic), mean softmax p0 / p1 / p2, RGB: ${attackProbe('rgb-mesh').join(' / ')}; BGR: ${attackProbe('bgr-mesh').join(' / ')}.`);
  say();
  say('Class 0 is the live class: it wins on nearly every real face in both channel orders, class 2 on none. BGR planes read far more real faces as live than the RGB the package feeds, above all on the faces-extra photos; the mesh box does slightly better than the BlazeFace box. RGB separates the shared real photos from the (mostly synthetic) attacks a little better, but at the cost of calling about half the faces-extra real faces not live, so the measurement the task sets (real photos should overwhelmingly be live) picks BGR.');
  say();
  say(`Used below: ${FR_LIVENESS_DEFAULTS.channels.toUpperCase()} input, class ${FR_LIVENESS_DEFAULTS.liveClass} = live (\`FR_LIVENESS_DEFAULTS\`).`);
  say();

  say('## Real faces rejected (BPCER) and attacks accepted (APCER)');
  say();
  say('A face is accepted as live when the score is at least the threshold. BPCER: real faces below it; APCER: attacks at or above it. Counts in brackets.');
  say();
  const rate = (k: number, n: number) => `${pct(n ? k / n : 0)} (${k}/${n})`;
  const sets = populations.map((p) => ({ p, set: found.filter((s) => s.population === p) }));
  const rowsAt = (model: Model, t: number, label: string) => [
    model,
    label,
    rate(bpcer(real.map((s) => s.scores[model]), t), real.length),
    rate(apcer(attacks.map((s) => s.scores[model]), t), attacks.length),
    ...sets.map(({ p, set }) => (isReal(set[0] ?? { population: p, name: '' }) ? rate(bpcer(set.map((s) => s.scores[model]), t), set.length) : rate(apcer(set.map((s) => s.scores[model]), t), set.length))),
  ];
  const header = ['model', 'threshold', 'BPCER all real', 'APCER all attacks', ...sets.map(({ p }) => `${isReal(sets.find((s) => s.p === p)!.set[0] ?? { population: p, name: '' }) ? 'BPCER' : 'APCER'} ${p}`)];
  const operating: Record<Model, number> = {} as Record<Model, number>;
  const rows: (string | number)[][] = [];
  for (const model of MODELS) {
    operating[model] = thresholdFor(real.map((s) => s.scores[model]), 0.05);
    for (const t of [0.1, 0.3, 0.5, 0.7, 0.9]) rows.push(rowsAt(model, t, String(t)));
    rows.push(rowsAt(model, operating[model], `**${f3(operating[model])}** (BPCER ≤ 5% on all real)`));
  }
  table(header, rows);
  const sharedOperating = Object.fromEntries(MODELS.map((m) => [m, thresholdFor(sharedReal.map((s) => s.scores[m]), 0.05)])) as Record<Model, number>;
  say('The same with the threshold set for BPCER ≤ 5% on the shared real photos alone:');
  say();
  table(header, MODELS.map((m) => rowsAt(m, sharedOperating[m], `${f3(sharedOperating[m])}`)));
  say(`The service's own thresholds are antispoof ≥ ${config.liveness.minAntispoof} and liveness ≥ ${config.liveness.minLiveness} (rows 0.3 above).`);
  say();

  say('## Every attack image');
  say();
  say('The shared set\'s attack-like photos are CGI, a cartoon and one screen recapture: not one printed photo, replayed video or mask. The synthetic ones are made by eval/liveness-models.ts from clean real photos of the shared set (screen: sub-pixel stripes, moire, gamma, blue cast, blur, JPEG 55; print: washed-out, yellowed, grain, halftone, blur, JPEG 70; low-quality copy: downscaled, blurred, colour cast, JPEG 15 then 25). They imitate the look of a recapture in software; a real camera pointed at a screen or a print also brings geometry, glare, a visible frame and optics that they lack. "accepted" marks scores at or above the BPCER ≤ 5% threshold of each model.');
  say();
  table(
    ['image', 'population', ...MODELS, 'accepted by'],
    scored
      .filter((s) => !isReal(s))
      .map((s) =>
        s.scores
          ? [s.name, s.population, ...MODELS.map((m) => f3(s.scores![m])), MODELS.filter((m) => s.scores![m] >= operating[m]).join(', ') || 'none']
          : [s.name, s.population, 'no face', 'no face', 'no face', 'none (no face)'],
      ),
  );

  say('## Real faces, score distribution');
  say();
  const quant = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
  table(
    ['model', 'population', 'n', 'min', '5th pct', 'median', 'mean'],
    MODELS.flatMap((m) =>
      sets
        .filter(({ set }) => set.length && isReal(set[0]))
        .map(({ p, set }) => {
          const xs = set.map((s) => s.scores[m]);
          return [m, p, xs.length, f3(Math.min(...xs)), f3(quant(xs, 0.05)), f3(quant(xs, 0.5)), f3(xs.reduce((a, b) => a + b, 0) / xs.length)];
        }),
    ),
  );

  say('The room around the face: the package crops 2.7 times the face box, and where the image is too small for that the crop shrinks to fit. Real faces rejected at 0.5, by the enlargement the image allows:');
  say();
  const bins: [string, (x: number) => boolean][] = [
    ['< 1.5x', (x) => x < 1.5],
    ['1.5-2.7x', (x) => x >= 1.5 && x < 2.7],
    ['2.7x (full)', (x) => x >= 2.7],
  ];
  table(
    ['model', ...bins.map(([label]) => `all real, crop ${label}`)],
    MODELS.map((m) => [
      m,
      ...bins.map(([, inBin]) => {
        const part = real.filter((s) => inBin(s.cropScale)).map((s) => s.scores[m]);
        return rate(bpcer(part, 0.5), part.length);
      }),
    ]),
  );
  say('Separation regardless of threshold (AUC, real faces against each attack population; 1 = every real face above every attack, 0.5 = chance):');
  say();
  const attackSets = sets.filter(({ set }) => set.length && !isReal(set[0]));
  table(
    ['model', 'all attacks', ...attackSets.map(({ p }) => p)],
    MODELS.map((m) => [m, f3(auc(real.map((s) => s.scores[m]), attacks.map((s) => s.scores[m]))), ...attackSets.map(({ set }) => f3(auc(real.map((s) => s.scores[m]), set.map((s) => s.scores[m]))))]),
  );

  say('## Recommendation');
  say();
  const at = (m: Model, t: number) => ({ b: bpcer(real.map((s) => s.scores[m]), t), a: apcer(attacks.map((s) => s.scores[m]), t) });
  const frAt = at('fr-liveness', operating['fr-liveness']);
  for (const m of ['antispoof', 'liveness'] as const) {
    const o = at(m, operating[m]);
    say(`- At each model's BPCER ≤ 5% threshold on all ${real.length} real faces: fr-liveness rejects ${frAt.b} real and accepts ${frAt.a}/${attacks.length} attacks; ${m} rejects ${o.b} real and accepts ${o.a}/${attacks.length} attacks.`);
  }
  const sharedAttacks = attacks.filter((s) => s.population === 'shared attack-like');
  const frShared = apcer(sharedAttacks.map((s) => s.scores['fr-liveness']), operating['fr-liveness']);
  say(`- On the ${sharedAttacks.length} attack-like photos that are not made here, fr-liveness accepts ${frShared}; antispoof ${apcer(sharedAttacks.map((s) => s.scores.antispoof), operating.antispoof)}; liveness ${apcer(sharedAttacks.map((s) => s.scores.liveness), operating.liveness)}.`);
  const onlyFr = sharedAttacks.filter((s) => s.scores['fr-liveness'] < operating['fr-liveness'] && s.scores.antispoof >= operating.antispoof && s.scores.liveness >= operating.liveness);
  if (onlyFr.length) say(`- Rejected by fr-liveness alone: ${onlyFr.map((s) => `${s.name} (${f3(s.scores['fr-liveness'])})`).join(', ')}.`);
  const at05 = (m: Model, set: Scored[]) => rate(bpcer(set.map((s) => s.scores![m]), 0.5), set.length);
  const extraReal = real.filter((s) => s.population !== 'shared real');
  say(`- Real faces rejected at 0.5, shared real photos: fr-liveness ${at05('fr-liveness', sharedReal)}, antispoof ${at05('antispoof', sharedReal)}, liveness ${at05('liveness', sharedReal)}; faces-extra bare faces: fr-liveness ${at05('fr-liveness', extraReal)}, antispoof ${at05('antispoof', extraReal)}, liveness ${at05('liveness', extraReal)}. fr-liveness's rejections of real faces depend strongly on the population (see masks-real/bare above).`);
  const better = (['antispoof', 'liveness'] as const).every((m) => {
    const o = at(m, operating[m]);
    return frAt.b <= o.b && frAt.a < o.a;
  });
  say();
  say(
    better
      ? `fr-liveness rejects no more real faces and accepts fewer attacks than both models at matched real-face rejection. But ${sharedAttacks.length} real-world attack-like images (none a print, replay or mask) and ${attacks.length - sharedAttacks.length} software imitations are far too few, and too unlike real attacks, to show that it "measurably" rejects more attacks: the difference above rests mostly on the synthetic images. **Do not adopt it for decisions yet**: keep it as a reported score, and collect real presentation attacks (printed photos, screen replays photographed by phones) before deciding.`
      : `fr-liveness does not both reject fewer real faces and accept fewer attacks than antispoof and liveness at matched real-face rejection, so by the rule set for this evaluation **it is not adopted**. The attack evidence is thin in any case: ${sharedAttacks.length} real-world attack-like images (CGI, a cartoon, one screen recapture; no print, replay or mask) and ${attacks.length - sharedAttacks.length} software imitations made here. Real presentation attacks (printed photos, screens photographed by phones) are needed before any of the three models can be trusted to stop them.`,
  );
  say();
  finish();
}

runScript(main);
