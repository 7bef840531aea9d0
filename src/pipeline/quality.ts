import type { ModelRunner } from '../models/registry';
import type { Geometry, Photometry } from './types';

/**
 * A credit curve: the measured value at which the credit is 0.1 and the value at which it is 0.9.
 * The curve between (and beyond) is logistic, so the credit never quite reaches 0 or 1 and keeps
 * falling as a defect grows. When the first value is larger, the credit falls as the value rises.
 */
export type Curve = [number, number];

export interface QualityOptions {
  /**
   * Maps the quality model's predicted genuine similarity onto the score: the predicted similarity
   * at which the score is 0.1 and at which it is 0.9 (docs/quality.md places Nodeflux's example
   * threshold 0.435 where recognition starts to suffer).
   */
  utility: Curve;
  /*
   * The measured credits below are reported with the score (reasons, the evaluation's
   * sharpness-and-exposure baseline) but are not multiplied into it: the model reads the raw measures.
   */
  /** log10(1 + Laplacian variance) of the face at the normalised inter-pupil distance. */
  sharpness: Curve;
  /** Inter-pupil distance, pixels. */
  ipd: Curve;
  /** Mean face brightness (0..1): one curve for too dark, one for too bright. */
  darkness: Curve;
  brightness: Curve;
  /** Share of clipped pixels (under- plus over-exposed). */
  clipped: Curve;
  /** Estimated noise standard deviation (0..255). */
  noise: Curve;
  /** JPEG block-boundary step ratio. */
  blockiness: Curve;
  /** The larger of |yaw| and |pitch|, degrees. */
  pose: Curve;
}

/** What the quality model reads of a face, in this order (QUALITY_FEATURE_NAMES). */
export const QUALITY_FEATURE_NAMES = [
  'fr-feature raw norm',
  'log10(1 + sharpness)',
  'blur (1.2 minus log10(1 + sharpness), from 0)',
  'log2 inter-pupil distance',
  'darkness (0.4 minus brightness, from 0)',
  'glare (brightness minus 0.6, from 0)',
  'clipped share',
  'noise sigma',
  'blockiness',
  'pose (max |yaw|, |pitch|)',
] as const;
export const QUALITY_FEATURES = QUALITY_FEATURE_NAMES.length;

export interface QualityInputs {
  /** Norm of the recognition model's raw embedding (embedFacesMeasured). */
  norm: number;
  photometry: Photometry;
  geometry: Geometry;
}

export interface Quality {
  /**
   * Face image quality in [0, 1], higher = more useful for recognition: the quality model's
   * predicted genuine similarity mapped through `utility`.
   */
  score: number;
  /** The quality model's output: the predicted mean cosine of this face with other photos of the person. */
  predictedSimilarity: number;
  /** Norm of the recognition model's raw embedding. */
  embeddingNorm: number;
  /** Each measure on its own credit curve, in (0, 1): diagnostics, not factors of the score. */
  credits: { sharpness: number; resolution: number; exposure: number; noise: number; compression: number; pose: number };
}

const LOGIT_90 = Math.log(9);

export function credit(value: number, [at10, at90]: Curve): number {
  const mid = (at10 + at90) / 2;
  const scale = (at90 - at10) / (2 * LOGIT_90);
  return 1 / (1 + Math.exp(-(value - mid) / scale));
}

/** log10(1 + sharpness) under which a face counts as blurred (train/quality.ts). */
const BLURRED_BELOW = 1.2;

/** Mean face brightness within which exposure counts as ordinary (the shared set's clean faces: median 0.52). */
const NEUTRAL_BRIGHTNESS = [0.4, 0.6] as const;

/** The quality model's input row for one face. */
export function qualityFeatures({ norm, photometry, geometry }: QualityInputs): Float32Array {
  return Float32Array.of(
    norm,
    Math.log10(photometry.sharpness + 1),
    // One-sided: under 1.2 (2% of clean faces are under 1.42; blur strength 3 gives 0.74) blur costs more.
    Math.max(0, BLURRED_BELOW - Math.log10(photometry.sharpness + 1)),
    Math.log2(Math.max(geometry.ipd, 1)),
    // One-sided, so that within ordinary exposure the model cannot reward a darker or brighter face.
    Math.max(0, NEUTRAL_BRIGHTNESS[0] - photometry.brightness),
    Math.max(0, photometry.brightness - NEUTRAL_BRIGHTNESS[1]),
    photometry.underExposed + photometry.overExposed,
    photometry.noise,
    photometry.blockiness,
    Math.max(Math.abs(geometry.yaw), Math.abs(geometry.pitch)),
  );
}

/** The score of a predicted genuine similarity. */
export function qualityScore(predictedSimilarity: number, options: QualityOptions): number {
  return credit(predictedSimilarity, options.utility);
}

/**
 * Each face's quality: the trained quality model (train/quality.ts) predicts from the recognition
 * model's raw embedding norm and the measured sharpness, resolution, exposure, noise, compression
 * and pose how similar the face will be to other photos of the same person; docs/quality.md gives
 * the formula, the training and the held-out figures.
 */
export async function assessQuality(faces: QualityInputs[], model: ModelRunner<'quality'>, options: QualityOptions): Promise<Quality[]> {
  if (faces.length === 0) return [];
  const input = new Float32Array(faces.length * QUALITY_FEATURES);
  faces.forEach((face, i) => input.set(qualityFeatures(face), i * QUALITY_FEATURES));
  const { scores } = await model.run(input, faces.length);
  return faces.map((face, i) => ({
    score: qualityScore(scores[i], options),
    predictedSimilarity: scores[i],
    embeddingNorm: face.norm,
    credits: measuredCredits(face, options),
  }));
}

/** The measured credits (docs/quality.md): what each measure alone says, for reasons and baselines. */
export function measuredCredits({ photometry, geometry }: QualityInputs, options: QualityOptions): Quality['credits'] {
  return {
    sharpness: credit(Math.log10(photometry.sharpness + 1), options.sharpness),
    resolution: credit(geometry.ipd, options.ipd),
    exposure:
      credit(photometry.brightness, options.darkness) *
      credit(photometry.brightness, options.brightness) *
      credit(photometry.underExposed + photometry.overExposed, options.clipped),
    noise: credit(photometry.noise, options.noise),
    compression: credit(photometry.blockiness, options.blockiness),
    pose: credit(Math.max(Math.abs(geometry.yaw), Math.abs(geometry.pitch)), options.pose),
  };
}
