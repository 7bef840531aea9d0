/**
 * `npm run eval [-- --out docs/evaluation.md] [--only quality,occlusion]`: measures the analysis
 * pipeline on the shared photo set (../shared/data/faces, labelled in manifest.json) and prints the
 * tables as Markdown; --only runs the named sections.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadConfig } from '../src/config';
import { loadModels, type ModelRegistry } from '../src/models/registry';
import { analyze, type AnalysisOptions, type FaceAnalysis } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { headPose } from '../src/pipeline/geometry';
import type { RgbImage } from '../src/pipeline/types';
import { similarity } from '../src/pipeline/embed';
import { markdownReport, runScript } from './markdown';
import { FACES_DIR, type FaceRecord, faceManifest, facePath, facesAvailable, isCopy, photoSetOptions } from './dataset';
import { equalErrorRate, falseRejectRate, spearman, tarAtFar } from './metrics';
import { isoSection } from './iso29794';
import { populationsSection } from './populations';
import { embedAll, pairScores, recognitionFaces } from './recognition-pairs';
import { seededRandom } from './random';
import { OCCLUSION_PARTS, OCCLUSION_REGIONS, type OcclusionResult, occlusionResult, pooledView } from '../src/pipeline/occlusion';
import { OCCLUDER_KINDS } from '../train/occluders';
import { DEGRADATIONS } from './transforms';
import { CLEAR_BELOW, cleanFaces, cleanRecords, inTrainingSplit, OCCLUDED_AT, OCCLUDED_FROM, type Sample, samplesOf, TRAINING_SEED } from '../train/occlusion-data';

interface Analysed {
  record: FaceRecord;
  image: RgbImage;
  analysis: FaceAnalysis;
}

const { say, table, finish } = markdownReport();
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const fixed = (x: number, d = 2) => x.toFixed(d);


async function mirrored(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes).rotate().flop().png().toBuffer();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function detectionSection(all: Analysed[]): void {
  say('## Detection');
  say();
  const single = all.filter((a) => a.record.faces === 1 && !a.record.occlusion);
  const singleOk = single.filter((a) => a.analysis.faces.length === 1);
  const empty = all.filter((a) => a.record.faces === 0);
  const emptyOk = empty.filter((a) => a.analysis.faces.length === 0);
  table(
    ['set', 'images', 'as labelled', 'share'],
    [
      ['one face, not occluded: exactly one face found', single.length, singleOk.length, pct(singleOk.length / single.length)],
      ['no face: none found', empty.length, emptyOk.length, pct(emptyOk.length / empty.length)],
    ],
  );
  const misses = [...single.filter((a) => a.analysis.faces.length !== 1), ...empty.filter((a) => a.analysis.faces.length !== 0)];
  if (misses.length > 0) {
    say('Not as labelled:');
    say();
    table(['file', 'labelled', 'found', 'tags'], misses.map((a) => [a.record.file, a.record.face_count, a.analysis.faces.length, a.record.tags.join(', ')]));
  }
  say('Several faces (the labelled count includes background faces, often tiny):');
  say();
  table(
    ['file', 'labelled', 'found'],
    all.filter((a) => a.record.faces === '2+').map((a) => [a.record.file, a.record.face_count, a.analysis.faces.length]),
  );
  say('Occluded faces (one face each):');
  say();
  table(
    ['file', 'occlusion', 'faces found'],
    all.filter((a) => a.record.faces === 1 && a.record.occlusion).map((a) => [a.record.file, (a.record.occlusion ?? []).join(', '), a.analysis.faces.length]),
  );
}

/** Real portraits shrunk until the face is `width` px wide, pasted into a gray frame of the given size. */
async function sizeSection(all: Analysed[], models: ModelRegistry, options: AnalysisOptions): Promise<void> {
  say('## Face size range');
  say();
  say('Frontal portraits shrunk so the face (mesh width) is the given number of pixels, centred in a gray frame; and the same faces cropped so the face fills the frame.');
  say();
  const portraits = all.filter((a) => a.record.faces === 1 && !a.record.occlusion && a.record.tags.includes('frontal') && a.analysis.faces.length === 1).slice(0, 12);
  const rows: (string | number)[][] = [];
  for (const [frameWidth, frameHeight] of [
    [640, 480],
    [1920, 1080],
  ]) {
    for (const faceWidth of [40, 60]) {
      let found = 0;
      for (const p of portraits) {
        const face = p.analysis.faces[0].geometry.faceBox;
        const scale = faceWidth / face.width;
        const width = Math.max(1, Math.round(p.image.width * scale));
        const height = Math.max(1, Math.round(p.image.height * scale));
        const small = await sharp(p.image.data, { raw: { width: p.image.width, height: p.image.height, channels: 3 } }).resize(width, height).raw().toBuffer();
        const cx = (face.x + face.width / 2) * scale;
        const cy = (face.y + face.height / 2) * scale;
        const left = Math.round(frameWidth / 2 - cx);
        const top = Math.round(frameHeight / 2 - cy);
        const visible = { left: Math.max(0, -left), top: Math.max(0, -top) };
        const w = Math.min(width - visible.left, frameWidth - Math.max(0, left));
        const h = Math.min(height - visible.top, frameHeight - Math.max(0, top));
        const piece = await sharp(small, { raw: { width, height, channels: 3 } }).extract({ ...visible, width: w, height: h }).png().toBuffer();
        const frame = await sharp({ create: { width: frameWidth, height: frameHeight, channels: 3, background: '#7f7f7f' } })
          .composite([{ input: piece, left: Math.max(0, left), top: Math.max(0, top) }])
          .jpeg({ quality: 92 })
          .toBuffer();
        if ((await analyze(frame, models, options)).faces.length === 1) found++;
      }
      rows.push([`${faceWidth} px face in ${frameWidth}x${frameHeight}`, portraits.length, found]);
    }
  }
  let filled = 0;
  for (const p of portraits) {
    const face = p.analysis.faces[0].geometry.faceBox;
    const side = Math.round(Math.max(face.width, face.height) * 1.05);
    const left = Math.max(0, Math.round(face.x + face.width / 2 - side / 2));
    const top = Math.max(0, Math.round(face.y + face.height / 2 - side / 2));
    const crop = await sharp(p.image.data, { raw: { width: p.image.width, height: p.image.height, channels: 3 } })
      .extract({ left, top, width: Math.min(side, p.image.width - left), height: Math.min(side, p.image.height - top) })
      .jpeg({ quality: 92 })
      .toBuffer();
    if ((await analyze(crop, models, options)).faces.length === 1) filled++;
  }
  rows.push(['face filling the frame (1.05x its extent)', portraits.length, filled]);
  table(['case', 'faces', 'found'], rows);
}

async function poseSection(all: Analysed[], models: ModelRegistry, options: AnalysisOptions): Promise<void> {
  say('## Pose: mirror symmetry');
  say();
  const frontal = all.filter((a) => a.record.faces === 1 && !a.record.occlusion && a.record.tags.includes('frontal') && a.analysis.faces.length === 1);
  const rows: (string | number)[][] = [];
  const rawPitch: number[] = [];
  let within = 0;
  for (const a of frontal) {
    const face = a.analysis.faces[0];
    rawPitch.push(headPose(face.landmarks.mesh).pitch);
    const flipped = await analyze(await mirrored(readFileSync(facePath(a.record.file))), models, options);
    if (flipped.faces.length !== 1) {
      rows.push([a.record.file, fixed(face.geometry.yaw, 1), 'face lost', '', '']);
      continue;
    }
    const m = flipped.faces[0].geometry;
    const yawSum = face.geometry.yaw + m.yaw;
    const rollSum = face.geometry.roll + m.roll;
    if (Math.abs(yawSum) <= 3 && Math.abs(rollSum) <= 3) within++;
    rows.push([a.record.file, fixed(face.geometry.yaw, 1), fixed(m.yaw, 1), fixed(yawSum, 2), fixed(rollSum, 2)]);
  }
  say(`Frontal one-face images: ${frontal.length}; |yaw + mirrored yaw| and |roll + mirrored roll| both at most 3°: ${within} (${pct(within / frontal.length)}).`);
  say(`Median pitch measured on them before the offset: ${fixed(median(rawPitch), 1)}° (the configured \`pitchOffset\` is ${options.geometry.pitchOffset}°).`);
  say();
  const worst = rows.sort((p, q) => Math.abs(Number(q[3]) || 99) - Math.abs(Number(p[3]) || 99)).slice(0, 8);
  say('Largest yaw asymmetries:');
  say();
  table(['file', 'yaw', 'mirrored yaw', 'yaw sum', 'roll sum'], worst);
}

async function verificationSection(models: ModelRegistry, options: AnalysisOptions): Promise<void> {
  say('## Verification');
  say();
  const { faces } = await recognitionFaces(models, options, 0);
  const { model, mirror, regionScale } = options.embedding;
  const embeddings = await embedAll(faces, models, model, { mirror, regionScale });
  const rows: (string | number)[][] = [];
  for (const population of ['faces', 'identities'] as const) {
    const indices = faces.map((f, i) => (f.population === population ? i : -1)).filter((i) => i >= 0);
    const { genuine, impostor } = pairScores(faces, embeddings, indices);
    const { eer, eerThreshold } = equalErrorRate(genuine, impostor);
    rows.push([population, new Set(indices.map((i) => faces[i].person)).size, genuine.length, impostor.length, pct(eer), fixed(eerThreshold, 3), pct(tarAtFar(genuine, impostor, 0.01).tar), pct(tarAtFar(genuine, impostor, 0.001).tar)]);
  }
  say(`The service's embedding (${model}${mirror ? ' with its mirror image' : ''}) on the named people of both shared sets; \`npm run calibrate:recognition\` compares the models, adds the unnamed bare faces as impostors and chooses the thresholds (docs/recognition.md).`);
  say();
  table(['population', 'people', 'genuine pairs', 'impostor pairs', 'EER', 'EER threshold', 'TAR @ FAR 1%', 'TAR @ FAR 0.1%'], rows);
}

/** Different from the training seed, so evaluation occluders are new draws. */
const EVALUATION_SEED = 7;

async function occlusionSection(all: Analysed[], models: ModelRegistry, options: AnalysisOptions): Promise<void> {
  say('## Occlusion');
  say();
  const heldOut = cleanRecords().filter((r) => !inTrainingSplit(r));
  const faces = await cleanFaces(heldOut, models, options);
  const random = seededRandom(EVALUATION_SEED);
  const samples: Sample[] = [];
  let lost = 0;
  for (const face of faces) {
    const made = await samplesOf(face, 24, 6, random, models, options);
    samples.push(...made.samples);
    lost += made.lost;
  }
  const results: OcclusionResult[] = [];
  for (const s of samples) results.push(occlusionResult((await models.get('occlusion').run(pooledView(s.pooled, OCCLUSION_PARTS), 1)).scores));
  const scores = results.map((r) => r.regions);
  say(
    `Synthetic occluders (${OCCLUDER_KINDS.join(', ')}) drawn on ${faces.length} faces (photos and mirror images) of identities held out of training, new random draws (seed ${EVALUATION_SEED}; training used ${TRAINING_SEED}); ${samples.length} samples, ${lost} more whose face the detector lost. A region counts as occluded when at least ${OCCLUDED_FROM * 100}% of it is covered, as clear under ${CLEAR_BELOW * 100}%. Threshold ${OCCLUDED_AT}.`,
  );
  say();
  table(
    ['region', 'occluded samples', 'recall', 'clear samples', 'false flags'],
    OCCLUSION_REGIONS.map((region) => {
      const occluded = samples.map((s, i) => [s.coverage[region], scores[i][region]]).filter(([c]) => c >= OCCLUDED_FROM);
      const clear = samples.map((s, i) => [s.coverage[region], scores[i][region]]).filter(([c]) => c < CLEAR_BELOW);
      return [region, occluded.length, pct(occluded.filter(([, x]) => x >= OCCLUDED_AT).length / occluded.length), clear.length, pct(clear.filter(([, x]) => x >= OCCLUDED_AT).length / clear.length)];
    }),
  );
  const flagged = (o: Record<string, number>) => OCCLUSION_REGIONS.some((r) => o[r] >= OCCLUDED_AT);
  const cleanFrontal = all.filter((a) => a.record.faces === 1 && !a.record.occlusion && a.record.tags.includes('frontal') && !a.record.synthetic && a.analysis.faces.length === 1);
  const heldOutFrontal = cleanFrontal.filter((a) => !inTrainingSplit(a.record));
  const share = (set: Analysed[]) => `${set.filter((a) => flagged(a.analysis.faces[0].occlusion)).length} of ${set.length} (${pct(set.filter((a) => flagged(a.analysis.faces[0].occlusion)).length / set.length)})`;
  say(`Clean frontal photos flagged occluded (any region at or above ${OCCLUDED_AT}): held-out identities ${share(heldOutFrontal)}; all ${share(cleanFrontal)} (the others' identities were seen in training).`);
  say();
  say(`Glasses (the model's eleventh output, at ${options.geometry.glassesFrom}), on the same held-out synthetic samples by occluder, and on real photos:`);
  say();
  table(
    ['samples', 'count', 'glasses found'],
    [...new Set(samples.map((s) => s.kind))].map((kind) => {
      const set = results.filter((_, i) => samples[i].kind === kind);
      return [kind, set.length, pct(set.filter((r) => r.glasses >= options.geometry.glassesFrom).length / set.length)];
    }),
  );
  const wearers = all.filter((a) => a.analysis.faces.length === 1 && (a.record.tags.includes('eyeglasses') || (a.record.occlusion ?? []).includes('sunglasses')));
  const bare = cleanFrontal.filter((a) => !a.record.tags.includes('eyeglasses'));
  say(`Real photos of people with glasses: ${wearers.filter((a) => a.analysis.faces[0].geometry.glasses).length} of ${wearers.length} found (${wearers.map((a) => `${a.record.file} ${fixed(a.analysis.faces[0].geometry.glassesScore)}`).join(', ')}). Clean frontal photos without glasses said to wear them: ${bare.filter((a) => a.analysis.faces[0].geometry.glasses).length} of ${bare.length}.`);
  say();
  say('Real occluded photos, one by one (regions at or above the threshold):');
  say();
  table(
    ['file', 'labelled', 'faces', 'occluded regions', 'highest score'],
    all
      .filter((a) => a.record.faces === 1 && a.record.occlusion)
      .map((a) => {
        const face = a.analysis.faces[0];
        if (!face) return [a.record.file, (a.record.occlusion ?? []).join(', '), 0, 'no face found', ''];
        const top = OCCLUSION_REGIONS.reduce((best, r) => (face.occlusion[r] > face.occlusion[best] ? r : best));
        const regions = OCCLUSION_REGIONS.filter((r) => face.occlusion[r] >= OCCLUDED_AT);
        return [a.record.file, (a.record.occlusion ?? []).join(', '), a.analysis.faces.length, regions.join(', ') || 'none', `${top} ${fixed(face.occlusion[top])}`];
      }),
  );
}

/** Each degradation at strengths 0 (none) to 4; every step is worse for recognition than the last. */
async function qualitySection(all: Analysed[], models: ModelRegistry, options: AnalysisOptions): Promise<void> {
  say('## Image quality (IQA)');
  say();
  const faces = all.filter((a) => a.record.faces === 1 && !a.record.occlusion && a.record.tags.includes('frontal') && !a.record.synthetic && a.analysis.faces.length === 1).slice(0, 16);
  say(`Each degradation at four increasing strengths on ${faces.length} clean frontal faces; a face the detector loses scores 0. Spearman correlation between strength and score, per face, averaged (1 = the score falls at every step).`);
  say();
  const rows: (string | number)[][] = [];
  for (const [name, degrade] of Object.entries(DEGRADATIONS)) {
    const rhos: number[] = [];
    const means = [0, 0, 0, 0, 0];
    for (const a of faces) {
      const ipd = a.analysis.faces[0].geometry.ipd;
      const scores: number[] = [];
      for (let k = 0; k <= 4; k++) {
        const result = await analyze(await degrade(a.image, k, ipd), models, options);
        scores.push(result.faces[0]?.quality.score ?? 0);
        means[k] += (result.faces[0]?.quality.score ?? 0) / faces.length;
      }
      rhos.push(-spearman([0, 1, 2, 3, 4], scores));
    }
    rows.push([name, fixed(rhos.reduce((s, r) => s + r, 0) / rhos.length, 3), means.map((m) => fixed(m)).join(' → ')]);
  }
  table(['degradation', 'mean Spearman (strength vs falling score)', 'mean score at strengths 0..4'], rows);

  const usable = all.filter((a) => a.record.identity && !isCopy(a.record) && a.analysis.faces.length >= 1);
  const pairs: { similarity: number; quality: number; baseline: number }[] = [];
  const baselineOf = (a: Analysed) => a.analysis.faces[0].quality.credits.sharpness * a.analysis.faces[0].quality.credits.exposure;
  for (let i = 0; i < usable.length; i++) {
    for (let j = i + 1; j < usable.length; j++) {
      if (usable[i].record.identity !== usable[j].record.identity) continue;
      const [fa, fb] = [usable[i].analysis.faces[0], usable[j].analysis.faces[0]];
      pairs.push({
        similarity: similarity(fa.embedding, fb.embedding),
        quality: Math.min(fa.quality.score, fb.quality.score),
        baseline: Math.min(baselineOf(usable[i]), baselineOf(usable[j])),
      });
    }
  }
  const impostor: number[] = [];
  for (let i = 0; i < usable.length; i++) {
    for (let j = i + 1; j < usable.length; j++) {
      if (usable[i].record.identity !== usable[j].record.identity) impostor.push(similarity(usable[i].analysis.faces[0].embedding, usable[j].analysis.faces[0].embedding));
    }
  }
  const threshold = tarAtFar(pairs.map((p) => p.similarity), impostor, 0.01).threshold;
  const fnmrAfterDiscard = (key: 'quality' | 'baseline', share: number) => {
    const kept = [...pairs].sort((p, q) => p[key] - q[key]).slice(Math.round(share * pairs.length));
    return falseRejectRate(kept.map((p) => p.similarity), threshold);
  };
  say(`Error versus discard: ${pairs.length} genuine pairs, pair quality = the lower of the two scores, one threshold (${fixed(threshold, 3)}, FAR 1% on all pairs). The baseline ranks pairs by a sharpness and exposure score alone.`);
  say();
  table(
    ['discarded', 'FNMR, ranked by IQA', 'FNMR, ranked by sharpness+exposure'],
    [0, 0.1, 0.2, 0.3].map((share) => [pct(share), pct(fnmrAfterDiscard('quality', share)), pct(fnmrAfterDiscard('baseline', share))]),
  );
}

function livenessSection(all: Analysed[]): void {
  say('## Liveness (antispoof and liveness models)');
  say();
  const attack = (r: FaceRecord) => r.synthetic || r.tags.some((t) => ['screen_recapture', 'cgi', 'cartoon'].includes(t));
  const real = all.filter((a) => !attack(a.record) && a.analysis.faces.length > 0).map((a) => a.analysis.faces[0].liveness);
  say(`Real, non-synthetic photos with a face: ${real.length}. Scored as spoof at 0.5: antispoof ${pct(real.filter((l) => l.antispoof < 0.5).length / real.length)}, liveness ${pct(real.filter((l) => l.liveness < 0.5).length / real.length)}. Medians: antispoof ${fixed(median(real.map((l) => l.antispoof)))}, liveness ${fixed(median(real.map((l) => l.liveness)))}.`);
  say();
  table(
    ['attack-like image', 'tags', 'antispoof', 'liveness'],
    all
      .filter((a) => attack(a.record) && a.analysis.faces.length > 0)
      .map((a) => [a.record.file, a.record.tags.join(', '), fixed(a.analysis.faces[0].liveness.antispoof), fixed(a.analysis.faces[0].liveness.liveness)]),
  );
}

function eyeSection(all: Analysed[]): void {
  say('## Eye openness');
  say();
  const open = all
    .filter((a) => a.record.faces === 1 && !a.record.occlusion && a.record.tags.includes('frontal') && a.analysis.faces.length === 1)
    .flatMap((a) => [a.analysis.faces[0].geometry.eyeOpennessRight, a.analysis.faces[0].geometry.eyeOpennessLeft])
    .sort((a, b) => a - b);
  say(`Eyelid opening over eye width on ${open.length} open eyes of frontal faces: min ${fixed(open[0], 3)}, 5th percentile ${fixed(open[Math.floor(open.length * 0.05)], 3)}, median ${fixed(median(open), 3)}.`);
  say();
}

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`the photo set is absent: ${FACES_DIR}`);
  const config = loadConfig();
  const options = photoSetOptions(config);
  const models = await loadModels(config.models);
  const all: Analysed[] = [];
  for (const record of faceManifest()) {
    const bytes = readFileSync(facePath(record.file));
    const image = await decodeImage(bytes, options.limits);
    all.push({ record, image, analysis: await analyze(bytes, models, options) });
  }
  say('# Evaluation');
  say();
  say(`Produced by \`npm run eval\` on ${all.length} photos of \`${FACES_DIR.replace(/.*\/shared\//, '../shared/')}\` with the default configuration.`);
  say();
  const sections: Record<string, () => Promise<void> | void> = {
    detection: () => detectionSection(all),
    size: () => sizeSection(all, models, options),
    pose: () => poseSection(all, models, options),
    eyes: () => eyeSection(all),
    verification: () => verificationSection(models, options),
    occlusion: () => occlusionSection(all, models, options),
    quality: () => qualitySection(all, models, options),
    liveness: () => livenessSection(all),
    populations: () => populationsSection(models, options, config, say, table),
    iso: () => isoSection(models, options, config, say, table),
  };
  const only = process.argv.indexOf('--only');
  const chosen = only >= 0 ? process.argv[only + 1].split(',') : Object.keys(sections);
  for (const name of chosen) {
    if (!sections[name]) throw new Error(`unknown section ${name}; sections: ${Object.keys(sections).join(', ')}`);
    await sections[name]();
  }
  await models.release();

  finish();
}

runScript(main);
