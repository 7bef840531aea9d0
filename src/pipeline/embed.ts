import type { ModelRunner } from '../models/registry';
import { arcfaceAlignment } from './align';
import { faceRegion, regionMap } from './crop';
import { type Affine, cropToTensor, squareCrop } from './image-ops';
import type { Roi } from './landmarks';
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

export interface StabilityOptions {
  regionScale: number;
  /** How many slightly shifted, scaled and turned copies of the crop are compared with it (0 = none, stability 1). */
  perturbations: number;
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
export function embeddingCrop(model: ModelRunner<EmbeddingModel>, face: Landmarks, regionScale: number, mirror = false): Affine {
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

/** Each face's L2-normalised embedding (of the crop plus its mirror image, with `mirror`) and its raw norm. */
export async function embedFacesMeasured(image: RgbImage, faces: Landmarks[], model: ModelRunner<EmbeddingModel>, options: EmbedOptions): Promise<MeasuredEmbedding[]> {
  const embed = cropEmbedder(image, model);
  const results: MeasuredEmbedding[] = [];
  for (const face of faces) {
    const sum = await embed(embeddingCrop(model, face, options.regionScale));
    if (options.mirror) {
      const flipped = await embed(embeddingCrop(model, face, options.regionScale, true));
      for (let i = 0; i < sum.length; i++) sum[i] += flipped[i];
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

/**
 * How much a face's embedding moves under small changes of framing: the mean cosine between the
 * embedding of the square around the mesh and those of the perturbed squares (1 without any).
 * The quality score reads it (docs/quality.md).
 */
export async function embeddingStability(image: RgbImage, faces: Landmarks[], model: ModelRunner<EmbeddingModel>, options: StabilityOptions): Promise<number[]> {
  const views = Math.min(options.perturbations, MAX_PERTURBATIONS);
  if (views === 0) return faces.map(() => 1);
  const embed = cropEmbedder(image, model);
  const size = model.imageShape[1];
  const results: number[] = [];
  for (const face of faces) {
    const region = faceRegion(face, options.regionScale);
    const centre = l2Normalize(await embed(regionMap(region, size)));
    let total = 0;
    for (let v = 0; v < views; v++) total += cosine(centre, l2Normalize(await embed(regionMap(perturbed(region, v), size))));
    results.push(total / views);
  }
  return results;
}

/** Similarity of two normalised embeddings in [0, 1]: their cosine, negatives counted as 0. */
export function similarity(a: Float32Array, b: Float32Array): number {
  return Math.min(1, Math.max(0, cosine(a, b)));
}
