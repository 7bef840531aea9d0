import type { ModelRunner } from '../models/registry';
import { runOnFaces } from './face-batch';
import type { Landmarks, RgbImage } from './types';

export interface LivenessScores {
  /** antispoof: probability that the face is real rather than fake. */
  antispoof: number;
  /** liveness: probability that the face is live rather than a replay. */
  liveness: number;
}

export interface LivenessOptions {
  regionScale: number;
}

/** Both anti-spoofing models on each face; weak signals (see docs/evaluation.md), reported as scores. */
export async function livenessScores(
  image: RgbImage,
  faces: Landmarks[],
  models: { antispoof: ModelRunner<'antispoof'>; liveness: ModelRunner<'liveness'> },
  options: LivenessOptions,
): Promise<LivenessScores[]> {
  if (faces.length === 0) return [];
  const { real } = await runOnFaces(image, faces, models.antispoof, options.regionScale);
  const { live } = await runOnFaces(image, faces, models.liveness, options.regionScale);
  // The liveness model's softmax has two classes; the first is "live".
  return faces.map((_, i) => ({ antispoof: real[i], liveness: live[2 * i] }));
}
