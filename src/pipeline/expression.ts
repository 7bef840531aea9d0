import type { ModelRunner } from '../models/registry';
import { runOnFaces } from './face-batch';
import { EXPRESSIONS, type Expression, type Landmarks, type RgbImage } from './types';

/** Probability of each of the seven expressions, per face, from one batched run of the emotion model. */
export async function expressions(
  image: RgbImage,
  faces: Landmarks[],
  model: ModelRunner<'emotion'>,
  regionScale: number,
): Promise<Record<Expression, number>[]> {
  if (faces.length === 0) return [];
  const out = (await runOnFaces(image, faces, model, regionScale)).emotion;
  return faces.map((_, i) => Object.fromEntries(EXPRESSIONS.map((name, k) => [name, out[i * EXPRESSIONS.length + k]])) as Record<Expression, number>);
}
