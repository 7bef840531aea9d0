import type { ModelRunner } from '../models/registry';
import { runOnFaces } from './face-batch';
import type { Landmarks, RgbImage } from './types';

export type EmbeddingModel = 'faceres' | 'faceres-deep' | 'mobileface';

export interface EmbedOptions {
  /** The face region fed to the model, as a multiple of the mesh extent. */
  regionScale: number;
}

function l2Normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

/** L2-normalised embeddings of each face's aligned crop, in one batched model run. */
export async function embedFaces<N extends EmbeddingModel>(
  image: RgbImage,
  faces: Landmarks[],
  model: ModelRunner<N>,
  options: EmbedOptions,
): Promise<Float32Array[]> {
  if (faces.length === 0) return [];
  const outputs = (await runOnFaces(image, faces, model, options.regionScale)) as Partial<Record<'descriptor' | 'embedding', Float32Array>>;
  const all = outputs.descriptor ?? outputs.embedding ?? new Float32Array(0);
  const dim = all.length / faces.length;
  return faces.map((_, i) => l2Normalize(all.slice(i * dim, (i + 1) * dim)));
}

/** Similarity of two normalised embeddings in [0, 1]: their cosine, negatives counted as 0. */
export function similarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return Math.min(1, Math.max(0, dot));
}
