/** Clean faces of the shared photo set and synthetic occlusions of them, as (features, coverage) samples. */
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import type { ModelRegistry } from '../src/models/registry';
import { type AnalysisOptions, locateFaces } from '../src/pipeline/analyze';
import { decodeImage } from '../src/pipeline/decode';
import { overlapOfSmaller } from '../src/pipeline/detect';
import { meshBox } from '../src/pipeline/landmarks';
import { OCCLUSION_REGIONS, type OcclusionRegion, occlusionFeatures } from '../src/pipeline/occlusion';
import type { Landmarks, RgbImage } from '../src/pipeline/types';
import { type FaceRecord, faceManifest, facePath, isCopy } from '../eval/dataset';
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
  image: RgbImage;
  face: Landmarks;
}

export interface Sample {
  /** 'none': the clean photo itself; 'photometric': the clean photo blurred, re-exposed, noisier or recompressed. */
  kind: OccluderKind | 'none' | 'photometric';
  /** Whose face it is (personOf()), so that a person's samples stay on one side of a split. */
  person: string;
  features: Float32Array;
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
  const samples: Sample[] = [
    { kind: 'none', person: clean.person, features: occlusionFeatures(clean.image, clean.face), coverage: noOcclusion(), glasses: clean.wearsGlasses },
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
      person: clean.person,
      features: occlusionFeatures(image, found),
      coverage: occluded.coverage,
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
    samples.push({ kind: 'photometric', person: clean.person, features: occlusionFeatures(image, found), coverage: noOcclusion(), glasses: clean.wearsGlasses });
  }
  return { samples, lost };
}
