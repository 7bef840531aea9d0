import type { ModelRunner } from '../models/registry';
import { faceRegion, regionToTensor } from './crop';
import type { Roi } from './landmarks';
import type { Landmarks, RgbImage } from './types';

export type EmbeddingModel = 'faceres' | 'faceres-deep' | 'mobileface';

export interface EmbedOptions {
  /** The face region fed to the model, as a multiple of the mesh extent. */
  regionScale: number;
  /** How many slightly shifted, scaled and turned copies of the crop measure the embedding's stability (0 = none). */
  perturbations: number;
}

export interface FaceEmbedding {
  /** L2-normalised embedding of the aligned crop. */
  embedding: Float32Array;
  /** Mean cosine between that embedding and those of the perturbed crops; 1 without perturbations. */
  stability: number;
}

/** Small changes of framing a capture could equally have had: shift (share of the side), scale, turn (degrees). */
const PERTURBATIONS: readonly { dx: number; dy: number; scale: number; degrees: number }[] = [
  { dx: 0.03, dy: 0, scale: 1.04, degrees: 2 },
  { dx: -0.03, dy: 0.02, scale: 0.96, degrees: -2 },
  { dx: 0, dy: -0.03, scale: 1.02, degrees: 3 },
  { dx: 0.02, dy: 0.03, scale: 0.98, degrees: -3 },
  { dx: -0.02, dy: -0.02, scale: 1.06, degrees: 1 },
  { dx: 0.01, dy: 0.01, scale: 0.94, degrees: -1 },
];
export const MAX_PERTURBATIONS = PERTURBATIONS.length;

function perturbed(region: Roi, k: number): Roi {
  const p = PERTURBATIONS[k];
  return {
    center: { x: region.center.x + p.dx * region.side, y: region.center.y + p.dy * region.side },
    side: region.side * p.scale,
    angle: region.angle + (p.degrees * Math.PI) / 180,
  };
}

function l2Normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

/**
 * Each face's embedding and its stability under small changes of framing. The crops run through
 * the model one at a time: on the CPU that is faster than one batch (82 vs 106 ms for five faceres
 * crops on one thread) and keeps ~60 MB less working memory per analysis thread (docs/performance.md).
 */
export async function embedFaces<N extends EmbeddingModel>(
  image: RgbImage,
  faces: Landmarks[],
  model: ModelRunner<N>,
  options: EmbedOptions,
): Promise<FaceEmbedding[]> {
  const views = 1 + Math.min(options.perturbations, MAX_PERTURBATIONS);
  const [channels, size] = model.imageShape;
  const range = model.entry.input.range;
  if (!range) throw new Error(`${model.name} does not take images`);
  const input = new Float32Array(channels * size * size);
  const embeddingOf = async (region: Roi): Promise<Float32Array> => {
    regionToTensor(image, region, size, range, input, 0);
    const outputs = (await model.run(input)) as Partial<Record<'descriptor' | 'embedding', Float32Array>>;
    return l2Normalize(outputs.descriptor ?? outputs.embedding ?? new Float32Array(0));
  };
  const results: FaceEmbedding[] = [];
  for (const face of faces) {
    const region = faceRegion(face, options.regionScale);
    const embedding = await embeddingOf(region);
    let total = 0;
    for (let v = 1; v < views; v++) total += cosine(embedding, await embeddingOf(perturbed(region, v - 1)));
    results.push({ embedding, stability: views > 1 ? total / (views - 1) : 1 });
  }
  return results;
}

/** Similarity of two normalised embeddings in [0, 1]: their cosine, negatives counted as 0. */
export function similarity(a: Float32Array, b: Float32Array): number {
  return Math.min(1, Math.max(0, cosine(a, b)));
}
