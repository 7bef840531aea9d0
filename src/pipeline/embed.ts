import type { ModelRunner } from '../models/registry';
import { arcfaceAlignment } from './align';
import { faceRegion } from './crop';
import { type Affine, cropToTensor, squareCrop } from './image-ops';
import type { Landmarks, RgbImage } from './types';

export type EmbeddingModel = 'fr-feature' | 'faceres' | 'faceres-deep' | 'mobileface';

/** Models trained on faces put onto the ArcFace five-point template; the others take a square around the mesh. */
const FIVE_POINT_ALIGNED: ReadonlySet<EmbeddingModel> = new Set(['fr-feature', 'mobileface']);

export interface EmbedOptions {
  /** Adds the embedding of the mirrored crop before normalising (a face and its mirror image are the same person). */
  mirror: boolean;
  /** For models fed a square around the mesh: its side as a multiple of the mesh extent. */
  regionScale: number;
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

/** Runs an embedding model on crops one at a time (faster on the CPU than one batch, docs/performance.md). */
function cropEmbedder(image: RgbImage, model: ModelRunner<EmbeddingModel>): (crop: Affine) => Promise<Float32Array> {
  const [channels, size] = model.imageShape;
  const range = model.entry.input.range;
  if (!range) throw new Error(`${model.name} does not take images`);
  const input = new Float32Array(channels * size * size);
  return async (crop) => {
    cropToTensor(image, crop, size, range, { data: input, offset: 0 });
    const outputs = (await model.run(input)) as Partial<Record<'descriptor' | 'embedding' | 'output', Float32Array>>;
    const raw = outputs.descriptor ?? outputs.embedding ?? outputs.output;
    if (!raw) throw new Error(`${model.name} has no embedding output`);
    return raw;
  };
}

/** The crop map of a face for `model`: the five-point template, or the square around the mesh. */
function embeddingCrop(model: ModelRunner<EmbeddingModel>, face: Landmarks, regionScale: number, mirror = false): Affine {
  const size = model.imageShape[1];
  if (FIVE_POINT_ALIGNED.has(model.name)) return arcfaceAlignment(face, size, mirror);
  const region = faceRegion(face, regionScale);
  return squareCrop(region.center, region.side, region.angle, size, mirror);
}

/** A face's L2-normalised embedding and the norm of the raw embedding behind it. */
export interface MeasuredEmbedding {
  embedding: Float32Array;
  /**
   * Euclidean norm of the raw (unnormalised) embedding; with `mirror`, of the mean of the crop's
   * and the mirrored crop's raw embeddings. ArcFace-family models give smaller norms to faces they
   * see poorly: the quality score reads it (docs/quality.md).
   */
  norm: number;
}

/**
 * Each face's L2-normalised embedding (of the crop plus its mirror image, with `mirror`) and its
 * raw norm. `known` holds, per face, the model's raw embedding of the unmirrored crop where an
 * earlier stage already computed it (fr-feature-maps gives fr-feature's, bit for bit): that run is
 * not repeated.
 */
export async function embedFacesMeasured(
  image: RgbImage,
  faces: Landmarks[],
  model: ModelRunner<EmbeddingModel>,
  options: EmbedOptions,
  known: readonly Float32Array[] = [],
): Promise<MeasuredEmbedding[]> {
  const embed = cropEmbedder(image, model);
  const results: MeasuredEmbedding[] = [];
  for (const [i, face] of faces.entries()) {
    const sum = known[i] ? Float32Array.from(known[i]) : await embed(embeddingCrop(model, face, options.regionScale));
    if (options.mirror) {
      const flipped = await embed(embeddingCrop(model, face, options.regionScale, true));
      for (let k = 0; k < sum.length; k++) sum[k] += flipped[k];
    }
    let squares = 0;
    for (const x of sum) squares += x * x;
    results.push({ embedding: l2Normalize(sum), norm: Math.sqrt(squares) / (options.mirror ? 2 : 1) });
  }
  return results;
}

/** Each face's L2-normalised embedding (of the crop plus its mirror image, with `mirror`). */
export async function embedFaces(image: RgbImage, faces: Landmarks[], model: ModelRunner<EmbeddingModel>, options: EmbedOptions): Promise<Float32Array[]> {
  return (await embedFacesMeasured(image, faces, model, options)).map((m) => m.embedding);
}

/** Similarity of two normalised embeddings in [0, 1]: their cosine, negatives counted as 0. */
export function similarity(a: Float32Array, b: Float32Array): number {
  return Math.min(1, Math.max(0, cosine(a, b)));
}
