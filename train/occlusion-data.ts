/** Clean faces of the shared photo set and synthetic occlusions of them, as (features, coverage) samples. */
import sharp from 'sharp';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, locateFaces } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { overlapOfSmaller } from '../src/pipeline/detect';
import { meshBox } from '../src/pipeline/landmarks';
import { OCCLUSION_REGIONS, type OcclusionRegion, occlusionFeatures, POOLED_PARTS } from '../src/pipeline/occlusion';
import { handmadeFeatures } from './occlusion-handmade';
import type { Landmarks, RgbImage } from '../src/pipeline/types';
import { type ExtraRecord, extraManifest, extraPath, type FaceRecord, faceManifest, facePath, isCopy } from '../eval/dataset';
import { seededRandom } from '../eval/random';
import { embedFaces, similarity } from '../src/pipeline/embed';
import { applyOccluder, GLASSES_KINDS, OCCLUDER_KINDS, type OccluderKind, occluderSvg, skinColour } from './occluders';

export const TRAINING_SEED = 20261122;
/** A region at least this share covered is occluded; under CLEAR_BELOW it is clear; between, unlabelled. */
export const OCCLUDED_FROM = 0.5;
export const CLEAR_BELOW = 0.1;
/** A region scoring at least this reads as occluded (Nodeflux's default threshold). */
export const OCCLUDED_AT = 0.6;

export interface CleanFace {
  file: string;
  /** personOf() the photo's record. */
  person: string;
  /** The photo's labels say the person wears (clear) glasses. */
  wearsGlasses: boolean;
  mirrored: boolean;
  /** 'shared' when not given. */
  population?: Population;
  image: RgbImage;
  face: Landmarks;
}

/**
 * Where a face comes from: the shared set's people ('shared'), faces-extra's bare and masked
 * folders, and, for checks only, the shared set's real masked photos and its held-out people.
 */
export const POPULATIONS = ['shared', 'masks-bare', 'masks-masked', 'real-bare', 'real-masked'] as const;
export type Population = (typeof POPULATIONS)[number] | 'shared-masked' | 'shared-heldout';
/** Populations whose faces wear a mask: the mask covers mouth, nose, chin and cheeks. */
export const MASKED_POPULATIONS: readonly Population[] = ['masks-masked', 'real-masked', 'shared-masked'];
/** The regions a worn mask covers; the others are left out of a masked face's labels. */
export const MASK_REGIONS: readonly OcclusionRegion[] = ['mouth', 'nose', 'chin', 'cheek_left', 'cheek_right'];

export interface Sample {
  /** 'none': the clean photo itself; 'photometric': the clean photo blurred, re-exposed, noisier or recompressed. */
  kind: OccluderKind | 'none' | 'photometric';
  /** The photo's population (faces-extra folder or the shared set); 'shared' when not given. */
  population?: Population;
  /** Whose face it is (personOf()), so that a person's samples stay on one side of a split. */
  person: string;
  /** occlusionFeatures() with every POOLED_PARTS: pooledView() takes what a model reads. */
  pooled: Float32Array;
  /** Attempt 1's hand-made features (train/occlusion-handmade.ts), for the comparison of `--select`. */
  handmade: Float32Array;
  coverage: Record<OcclusionRegion, number>;
  glasses: boolean;
}

/** FNV-1a, to split identities into training and evaluation sets the same way every time. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Who is in the photo: the identity, or the file for unnamed people. */
export function personOf(record: FaceRecord): string {
  return record.identity ?? record.file;
}

/** 70% of people train the model; the rest only evaluate it. */
export function inTrainingSplit(record: FaceRecord): boolean {
  return hash(personOf(record)) % 10 < 7;
}

/** One-face photos without occlusion, real people only, no duplicate copies. */
export function cleanRecords(): FaceRecord[] {
  return faceManifest().filter(
    (r) => r.faces === 1 && !r.occlusion && !r.synthetic && !isCopy(r) && !r.tags.some((t) => ['cgi', 'cartoon', 'screen_recapture', 'profile'].includes(t)),
  );
}

function noOcclusion(): Record<OcclusionRegion, number> {
  return Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, 0])) as Record<OcclusionRegion, number>;
}

/** Photos are scaled down to this long side first: the features are measured in a normalised face frame, and it keeps sample-making fast. */
const WORKING_SIDE = 640;

/** Each record's photo and its mirror image, with the face located as the service does. */
export async function cleanFaces(records: FaceRecord[], models: ModelRegistry, options: AnalysisOptions): Promise<CleanFace[]> {
  const faces: CleanFace[] = [];
  for (const record of records) {
    const scaled = await sharp(readFileSync(facePath(record.file)))
      .rotate()
      .resize(WORKING_SIDE, WORKING_SIDE, { fit: 'inside', withoutEnlargement: true })
      .png()
      .toBuffer();
    const image = await decodeImage(scaled, options.limits);
    const flipped = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).flop().raw().toBuffer();
    for (const [mirrored, view] of [
      [false, image],
      [true, { ...image, data: flipped }],
    ] as const) {
      const [located] = await locateFaces(view, models, options.detection);
      if (located) faces.push({ file: record.file, person: personOf(record), wearsGlasses: record.tags.includes('eyeglasses'), mirrored, image: view, face: located.landmarks });
    }
  }
  return faces;
}

/**
 * The clean photo degraded the way real uploads are, nothing covering the face: scaled down and
 * back, blurred, darker or brighter, noisier, recompressed. These teach the model that poor
 * pictures are not occlusion (that is the quality score's concern).
 */
async function photometricVariant(image: RgbImage, random: () => number): Promise<Buffer> {
  const raw = { width: image.width, height: image.height, channels: 3 as const };
  const scale = 0.3 + 0.7 * random();
  let data = await sharp(image.data, { raw })
    .resize(Math.max(32, Math.round(image.width * scale)))
    .resize(image.width, image.height)
    .raw()
    .toBuffer();
  if (random() < 0.5) data = await sharp(data, { raw }).blur(0.3 + 2.7 * random()).raw().toBuffer();
  const gain = 0.4 + 1.8 * random();
  const sigma = random() < 0.5 ? 12 * random() : 0;
  const noisy = Uint8Array.from(data, (v) => {
    const gaussian = Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    return Math.min(255, Math.max(0, Math.round(v * gain + sigma * gaussian)));
  });
  return sharp(noisy, { raw }).jpeg({ quality: Math.round(25 + 70 * random()) }).toBuffer();
}

/** The face in `image` that is the clean face (the photo may hold others), or undefined when lost. */
async function sameFace(image: RgbImage, cleanBox: ReturnType<typeof meshBox>, models: ModelRegistry, options: AnalysisOptions): Promise<Landmarks | undefined> {
  return (await locateFaces(image, models, options.detection)).find((f) => overlapOfSmaller(f.box, cleanBox) > 0.5)?.landmarks;
}

/**
 * The clean sample of a face, `variants` occluded ones and `degradations` photometric ones. Each
 * made photo goes through the real detector and landmarks; when the face is lost it yields no
 * sample (counted in `lost`).
 */
export async function samplesOf(
  clean: CleanFace,
  variants: number,
  degradations: number,
  random: () => number,
  models: ModelRegistry,
  options: AnalysisOptions,
): Promise<{ samples: Sample[]; lost: number }> {
  const maps = models.get('fr-feature-maps');
  const measure = async (image: RgbImage, face: Landmarks) => ({ pooled: await occlusionFeatures(image, face, maps, POOLED_PARTS), handmade: handmadeFeatures(image, face) });
  const samples: Sample[] = [
    { kind: 'none', person: clean.person, population: clean.population, ...(await measure(clean.image, clean.face)), coverage: noOcclusion(), glasses: clean.wearsGlasses },
  ];
  const skin = skinColour(clean.image, clean.face);
  const cleanBox = meshBox(clean.face.mesh);
  let lost = 0;
  for (let v = 0; v < variants; v++) {
    const kind = OCCLUDER_KINDS[(v + Math.floor(random() * OCCLUDER_KINDS.length)) % OCCLUDER_KINDS.length];
    const occluded = await applyOccluder(clean.image, clean.face, occluderSvg(kind, clean.face, skin, random), Math.round(70 + random() * 25));
    const image = await decodeImage(occluded.jpeg, options.limits);
    const found = await sameFace(image, cleanBox, models, options);
    if (!found) {
      lost++;
      continue;
    }
    samples.push({
      kind,
      person: clean.person, population: clean.population,
      ...(await measure(image, found)),
      // Clear eyeglasses leave eyes and brows visible: not occlusion, whatever part of a region the frame crosses.
      coverage: kind === 'eyeglasses' ? noOcclusion() : occluded.coverage,
      glasses: clean.wearsGlasses || GLASSES_KINDS.includes(kind),
    });
  }
  for (let v = 0; v < degradations; v++) {
    const image = await decodeImage(await photometricVariant(clean.image, random), options.limits);
    const found = await sameFace(image, cleanBox, models, options);
    if (!found) {
      lost++;
      continue;
    }
    samples.push({ kind: 'photometric', person: clean.person, population: clean.population, ...(await measure(image, found)), coverage: noOcclusion(), glasses: clean.wearsGlasses });
  }
  return { samples, lost };
}

/** How a sample's labels are read: region coverage, the masked populations' mask regions, glasses. */
export interface Labelled {
  sample: Sample;
  /** One per OCCLUSION_OUTPUTS: 1 occluded, 0 clear, NaN not used. */
  labels: number[];
}

/**
 * A sample's labels, one per region and then glasses:
 * - a region at least OCCLUDED_FROM covered by a drawn occluder is occluded, under CLEAR_BELOW clear, between unused;
 *   drawn clear eyeglasses leave every region clear;
 * - a masked photo (a real or pasted mask) is occluded at mouth, nose, chin and cheeks; its other regions are
 *   clear for the pasted mask (the photo is a bare one with the mask drawn on) and unused for real masks
 *   (tight crops, hats, sunglasses are possible); a drawn occluder on a masked photo is never made;
 * - glasses are known only for the shared set's photos (tagged eyeglasses) and drawn glasses; faces-extra's
 *   bare faces are not tagged, so their glasses label is unused unless glasses were drawn.
 */
export function labelsOf(sample: Sample): number[] {
  const population = sample.population ?? 'shared';
  const masked = MASKED_POPULATIONS.includes(population);
  const regions = OCCLUSION_REGIONS.map((region) => {
    if (masked) {
      if (MASK_REGIONS.includes(region)) return 1;
      return population === 'masks-masked' ? 0 : Number.NaN;
    }
    // Clear eyeglasses are not occlusion (docs/occlusion.md), whatever part of a brow the frame crosses.
    if (sample.kind === 'eyeglasses') return 0;
    const coverage = sample.coverage[region];
    if (coverage >= OCCLUDED_FROM) return 1;
    if (coverage < CLEAR_BELOW) return 0;
    return Number.NaN;
  });
  const drawnGlasses = GLASSES_KINDS.includes(sample.kind as OccluderKind);
  const glasses = population === 'shared' || population === 'shared-heldout' || drawnGlasses ? (sample.glasses ? 1 : 0) : Number.NaN;
  return [...regions, glasses];
}

/** One photo (or its mirror image) to make samples of, and how many. */
export interface FaceUnit {
  /** Path under the photo set's folder, which also names the unit. */
  file: string;
  path: string;
  population: Population;
  mirrored: boolean;
  /** personOf() for the shared set; faces-extra's people are grouped later (groupPeople). */
  person: string;
  wearsGlasses: boolean;
  variants: number;
  degradations: number;
}

export interface UnitResult {
  unit: FaceUnit;
  located: boolean;
  /** fr-feature embedding of the located face (for grouping near-duplicates and repeated people). */
  embedding: number[];
  samples: Sample[];
  lost: number;
}

/** The shared set's clean photos and their mirror images, as units. */
export function sharedUnits(records: FaceRecord[], variants: number, degradations: number, population: Population = 'shared'): FaceUnit[] {
  return records.flatMap((r) =>
    [false, true].map((mirrored) => ({
      file: r.file,
      path: facePath(r.file),
      population,
      mirrored,
      person: personOf(r),
      wearsGlasses: r.tags.includes('eyeglasses'),
      variants,
      degradations,
    })),
  );
}

function extraPopulation(r: ExtraRecord): Population | undefined {
  if (r.set === 'masks') return r.occlusion ? 'masks-masked' : 'masks-bare';
  if (r.set === 'masks-real') return r.occlusion ? 'real-masked' : 'real-bare';
  return undefined;
}

/** faces-extra's masks and masks-real photos as units: bare faces get drawn occluders and degradations, masked ones are used as they are. */
export function extraUnits(variants: number, degradations: number): FaceUnit[] {
  const units: FaceUnit[] = [];
  for (const r of extraManifest()) {
    const population = extraPopulation(r);
    if (!population || r.faces !== 1) continue;
    const bare = !r.occlusion;
    units.push({ file: r.file, path: extraPath(r.file), population, mirrored: false, person: r.file, wearsGlasses: false, variants: bare ? variants : 0, degradations: bare ? degradations : 0 });
  }
  return units;
}

/** The number a masks-folder file is named by (12.jpg, 12-with-mask.jpg): a bare and a masked file with the same number are often one photo. */
function photoNumber(file: string): string | undefined {
  const m = /^masks\/(?:bare|masked)\/(\d+)(?:-with-mask)?\.\w+$/.exec(file);
  return m ? m[1] : undefined;
}

/**
 * People of faces-extra, which names no one: a file, its same-number partner (masks/bare/N and
 * masks/masked/N-with-mask) and every face of the same population whose fr-feature embedding is
 * at least that population's `thresholds` similar to it (augmented copies of a photo, several
 * photos of one person) form one group, transitively. Faces are compared only within their own
 * population: masks make masked faces alike whoever wears them, and tight crops make the
 * masks-real faces more alike than portraits (so their thresholds are higher). Returns a person
 * name per file: the group's first file.
 */
export function groupPeople(faces: { file: string; population: string; embedding: number[] | undefined }[], thresholds: Record<string, number>): Map<string, string> {
  const parent = faces.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const join = (a: number, b: number) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const byNumber = new Map<string, number>();
  faces.forEach((f, i) => {
    const n = photoNumber(f.file);
    if (n === undefined) return;
    const other = byNumber.get(n);
    if (other === undefined) byNumber.set(n, i);
    else join(other, i);
  });
  const vectors = faces.map((f) => (f.embedding && f.embedding.length > 0 ? Float32Array.from(f.embedding) : undefined));
  for (let i = 0; i < faces.length; i++) {
    const a = vectors[i];
    const threshold = thresholds[faces[i].population];
    if (!a || threshold === undefined) continue;
    for (let j = i + 1; j < faces.length; j++) {
      const b = vectors[j];
      if (b && faces[j].population === faces[i].population && similarity(a, b) >= threshold) join(i, j);
    }
  }
  return new Map(faces.map((f, i) => [f.file, `extra:${faces[find(i)].file}`]));
}

const toBase64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** In the cache, `features` holds the hand-made features and `deep` the pooled ones. */
function encodeSamples(samples: Sample[]): unknown[] {
  return samples.map(({ pooled, handmade, ...rest }) => ({ ...rest, features: toBase64(handmade), deep: toBase64(pooled) }));
}

function decodeSamples(rows: unknown[]): Sample[] {
  return (rows as (Omit<Sample, 'pooled' | 'handmade'> & { features: string; deep: string })[]).map(({ features, deep, ...rest }) => ({
    ...rest,
    handmade: fromBase64(features),
    pooled: fromBase64(deep),
  }));
}

function cacheEntry(unit: FaceUnit, cacheDir: string | undefined, version: string): { key: string; cachePath: string | undefined } {
  const key = `${version}|${TRAINING_SEED}|${unit.population}|${unit.file}|${unit.mirrored}|${unit.variants}|${unit.degradations}`;
  const cachePath = cacheDir ? join(cacheDir, `${hash(key).toString(16)}-${unit.file.replace(/[^\w.-]+/g, '_')}${unit.mirrored ? '-m' : ''}.json`) : undefined;
  return { key, cachePath };
}

/** A unit's samples as unitSamples() kept them in `cacheDir`, or undefined when they are not there. */
export function cachedUnitSamples(unit: FaceUnit, cacheDir: string | undefined, version: string): UnitResult | undefined {
  const { key, cachePath } = cacheEntry(unit, cacheDir, version);
  if (!cachePath || !existsSync(cachePath)) return undefined;
  const kept = JSON.parse(readFileSync(cachePath, 'utf8')) as { key: string; located: boolean; embedding: number[]; samples: unknown[]; lost: number };
  if (kept.key !== key) return undefined;
  const samples = decodeSamples(kept.samples).map((s) => ({ ...s, person: unit.person }));
  return { unit, located: kept.located, embedding: kept.embedding, samples, lost: kept.lost };
}

/**
 * Makes a unit's samples: the photo scaled to WORKING_SIDE (mirrored if asked), located as the
 * service does, then samplesOf() with a generator seeded by the seed and the unit's name, so a
 * unit's samples do not depend on which other units run or in what order. With `cacheDir`, the
 * result is kept there and reused (the key holds the unit, the seed and `version`).
 */
export async function unitSamples(
  unit: FaceUnit,
  models: ModelRegistry,
  options: AnalysisOptions,
  cacheDir: string | undefined,
  version: string,
): Promise<UnitResult> {
  const { key, cachePath } = cacheEntry(unit, cacheDir, version);
  const kept = cachedUnitSamples(unit, cacheDir, version);
  if (kept) return kept;
  const scaled = await sharp(readFileSync(unit.path)).rotate().resize(WORKING_SIDE, WORKING_SIDE, { fit: 'inside', withoutEnlargement: true }).png().toBuffer();
  let image = await decodeImage(scaled, options.limits);
  if (unit.mirrored) image = { ...image, data: await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).flop().raw().toBuffer() };
  const [located] = await locateFaces(image, models, options.detection);
  let result: UnitResult;
  if (!located) result = { unit, located: false, embedding: [], samples: [], lost: 0 };
  else {
    const clean: CleanFace = { file: unit.file, person: unit.person, wearsGlasses: unit.wearsGlasses, mirrored: unit.mirrored, population: unit.population, image, face: located.landmarks };
    const random = seededRandom((TRAINING_SEED ^ hash(`${unit.file}|${unit.mirrored}`)) >>> 0);
    const made = await samplesOf(clean, unit.variants, unit.degradations, random, models, options);
    const [embedding] = await embedFaces(image, [located.landmarks], models.get(options.embedding.model), options.embedding);
    result = { unit, located: true, embedding: Array.from(embedding, (v) => Number(v.toFixed(5))), samples: made.samples, lost: made.lost };
  }
  if (cachePath) {
    mkdirSync(cacheDir as string, { recursive: true });
    writeFileSync(cachePath, JSON.stringify({ key, located: result.located, embedding: result.embedding, samples: encodeSamples(result.samples), lost: result.lost }));
  }
  return result;
}
