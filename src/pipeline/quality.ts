import type { Geometry, Photometry } from './types';

/**
 * A credit curve: the measured value at which the credit is 0.1 and the value at which it is 0.9.
 * The curve between (and beyond) is logistic, so the credit never quite reaches 0 or 1 and keeps
 * falling as a defect grows. When the first value is larger, the credit falls as the value rises.
 */
export type Curve = [number, number];

export interface QualityOptions {
  /** Mean cosine between the embedding and those of slightly perturbed crops. */
  stability: Curve;
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

export interface Quality {
  /** Face image quality in [0, 1], higher = more useful for recognition: the product of the credits. */
  score: number;
  /** The raw embedding stability behind the stability credit. */
  embeddingStability: number;
  credits: { stability: number; sharpness: number; resolution: number; exposure: number; noise: number; compression: number; pose: number };
}

const LOGIT_90 = Math.log(9);

export function credit(value: number, [at10, at90]: Curve): number {
  const mid = (at10 + at90) / 2;
  const scale = (at90 - at10) / (2 * LOGIT_90);
  return 1 / (1 + Math.exp(-(value - mid) / scale));
}

/**
 * Combines how stable the face's embedding stays under small changes of framing (the recognition
 * model's own view of the sample) with measured sharpness, resolution, exposure, noise, compression
 * and pose. docs/quality.md gives the formula and how the curves were calibrated.
 */
export function assessQuality(stability: number, photometry: Photometry, geometry: Geometry, options: QualityOptions): Quality {
  const credits = {
    stability: credit(stability, options.stability),
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
  const score = Object.values(credits).reduce((product, c) => product * c, 1);
  return { score, embeddingStability: stability, credits };
}
