import type { ModelRunner } from '../models/registry';
import { arcfaceAlignment, inverse } from './align';
import { type Affine, cropToTensor } from './image-ops';
import { insidePolygon, OCCLUSION_REGIONS, type OcclusionRegion, REGION_POLYGONS } from './occlusion-regions';
import type { Landmarks, Point, RgbImage } from './types';

export { insidePolygon, OCCLUSION_REGIONS, type OcclusionRegion, regionOutlines } from './occlusion-regions';

/**
 * What can be pooled from fr-feature-maps per region: the 14x14 map's mean and max over the
 * region, and the 7x7 map's mean (128 channels each).
 */
export const POOLED_PARTS = ['mean14', 'max14', 'mean7'] as const;
export type PooledPart = (typeof POOLED_PARTS)[number];
/** The parts the occlusion model reads (chosen by cross-validation, docs/occlusion.md). */
export const OCCLUSION_PARTS: readonly PooledPart[] = ['mean14'];
const CHANNELS = 128;
export const OCCLUSION_FEATURES = OCCLUSION_REGIONS.length * OCCLUSION_PARTS.length * CHANNELS;

/** fr-feature's aligned crop. */
const CROP = 112;
/** Sub-samples per map cell and side, to weigh each cell by the share of it inside a region. */
const SUB = 4;

/** Each region's polygon in the pixels of the crop whose crop-to-image map is `toImage`. */
export function cropOutlines(landmarks: Landmarks, toImage: Affine): Point[][] {
  const toCrop = inverse(toImage);
  return OCCLUSION_REGIONS.map((name) =>
    REGION_POLYGONS[name].map((i) => {
      const q = landmarks.mesh[i];
      return { x: toCrop.a * q.x + toCrop.b * q.y + toCrop.c, y: toCrop.d * q.x + toCrop.e * q.y + toCrop.f };
    }),
  );
}

/**
 * Per region, each cell's weight on a side x side map of the 112-pixel crop: the share of the
 * cell's sub-samples inside the region's polygon, normalised to sum 1. A region wholly outside
 * the crop (or thinner than the sub-samples) falls back to the cell nearest its centre.
 */
export function regionCellWeights(outlines: Point[][], side: number): Float32Array[] {
  const cell = CROP / side;
  return outlines.map((polygon) => {
    const w = new Float32Array(side * side);
    let total = 0;
    for (let cy = 0; cy < side; cy++) {
      for (let cx = 0; cx < side; cx++) {
        let n = 0;
        for (let sy = 0; sy < SUB; sy++) {
          for (let sx = 0; sx < SUB; sx++) {
            if (insidePolygon({ x: (cx + (sx + 0.5) / SUB) * cell, y: (cy + (sy + 0.5) / SUB) * cell }, polygon)) n++;
          }
        }
        w[cy * side + cx] = n;
        total += n;
      }
    }
    if (total === 0) {
      const centre = polygon.reduce((s, p) => ({ x: s.x + p.x / polygon.length, y: s.y + p.y / polygon.length }), { x: 0, y: 0 });
      const clamp = (v: number) => Math.min(side - 1, Math.max(0, Math.floor(v / cell)));
      w[clamp(centre.y) * side + clamp(centre.x)] = 1;
      return w;
    }
    return w.map((v) => v / total);
  });
}

/** One region's weighted mean (or the max over its cells) of each channel of an NCHW map (batch 1). */
function pool(map: Float32Array, side: number, weights: Float32Array, max: boolean, out: Float32Array, at: number): void {
  const plane = side * side;
  for (let c = 0; c < CHANNELS; c++) {
    let s = max ? -Infinity : 0;
    for (let i = 0; i < plane; i++) {
      if (weights[i] === 0) continue;
      const v = map[c * plane + i];
      s = max ? Math.max(s, v) : s + weights[i] * v;
    }
    out[at + c] = s;
  }
}

/** What fr-feature-maps gives of one face's aligned crop. */
export interface FaceMaps {
  /** The occlusion model's input: the maps pooled per region (`occlusionFeatures`). */
  features: Float32Array;
  /**
   * fr-feature's raw embedding of the same crop (the derived model's embedding output is
   * fr-feature's, bit for bit), so the embedding stage need not run fr-feature on it again.
   */
  alignedEmbedding: Float32Array;
}

/**
 * fr-feature-maps on the face's aligned crop (the embedding's crop): its feature maps pooled over
 * each region's FaceMesh polygon projected into that crop, region by region, the `parts` asked
 * for, 128 channels each; and the embedding of the crop.
 */
export async function faceMaps(image: RgbImage, landmarks: Landmarks, maps: ModelRunner<'fr-feature-maps'>, parts: readonly PooledPart[] = OCCLUSION_PARTS): Promise<FaceMaps> {
  const toImage = arcfaceAlignment(landmarks, CROP);
  const range = maps.entry.input.range as [number, number];
  const input = new Float32Array(3 * CROP * CROP);
  cropToTensor(image, toImage, CROP, range, { data: input, offset: 0 });
  const { map14, map7, output } = await maps.run(input);
  const outlines = cropOutlines(landmarks, toImage);
  const w14 = parts.some((p) => p !== 'mean7') ? regionCellWeights(outlines, 14) : [];
  const w7 = parts.includes('mean7') ? regionCellWeights(outlines, 7) : [];
  const features = new Float32Array(OCCLUSION_REGIONS.length * parts.length * CHANNELS);
  let at = 0;
  for (let r = 0; r < OCCLUSION_REGIONS.length; r++) {
    for (const part of parts) {
      if (part === 'mean7') pool(map7, 7, w7[r], false, features, at);
      else pool(map14, 14, w14[r], part === 'max14', features, at);
      at += CHANNELS;
    }
  }
  return { features, alignedEmbedding: output };
}

/** What the occlusion model reads of a face (`faceMaps`' features). */
export async function occlusionFeatures(image: RgbImage, landmarks: Landmarks, maps: ModelRunner<'fr-feature-maps'>, parts: readonly PooledPart[] = OCCLUSION_PARTS): Promise<Float32Array> {
  return (await faceMaps(image, landmarks, maps, parts)).features;
}

/** The `parts` of features pooled with every POOLED_PARTS, region by region (what occlusionFeatures(..., parts) gives). */
export function pooledView(all: Float32Array, parts: readonly PooledPart[]): Float32Array {
  const out = new Float32Array(OCCLUSION_REGIONS.length * parts.length * CHANNELS);
  let k = 0;
  for (let r = 0; r < OCCLUSION_REGIONS.length; r++) {
    for (const part of parts) {
      const from = (r * POOLED_PARTS.length + POOLED_PARTS.indexOf(part)) * CHANNELS;
      out.set(all.subarray(from, from + CHANNELS), k);
      k += CHANNELS;
    }
  }
  return out;
}

/** The occlusion model's outputs, in order: one per region, then whether the face wears glasses. */
export const OCCLUSION_OUTPUTS = [...OCCLUSION_REGIONS, 'glasses'] as const;

export interface OcclusionResult {
  /** Probability that each region is covered. */
  regions: Record<OcclusionRegion, number>;
  /** Probability that the face wears glasses, clear or dark. */
  glasses: number;
}

/** A face's occlusion scores and fr-feature's raw embedding of its aligned crop, which the occlusion stage computed on the way. */
export interface OcclusionFinding extends OcclusionResult {
  alignedEmbedding: Float32Array;
}

/** Reads one row of the model's output. */
export function occlusionResult(scores: ArrayLike<number>, offset = 0): OcclusionResult {
  const regions = Object.fromEntries(OCCLUSION_REGIONS.map((name, r) => [name, scores[offset + r]])) as Record<OcclusionRegion, number>;
  return { regions, glasses: scores[offset + OCCLUSION_REGIONS.length] };
}

/**
 * Region occlusion and glasses scores of each face: fr-feature-maps, pooled per region, then the
 * trained occlusion model; with fr-feature's embedding of each aligned crop.
 */
export async function occlusionScores(image: RgbImage, faces: Landmarks[], maps: ModelRunner<'fr-feature-maps'>, model: ModelRunner<'occlusion'>): Promise<OcclusionFinding[]> {
  if (faces.length === 0) return [];
  const input = new Float32Array(faces.length * OCCLUSION_FEATURES);
  const embeddings: Float32Array[] = [];
  for (const [i, face] of faces.entries()) {
    const { features, alignedEmbedding } = await faceMaps(image, face, maps);
    input.set(features, i * OCCLUSION_FEATURES);
    embeddings.push(alignedEmbedding);
  }
  const { scores } = await model.run(input, faces.length);
  return faces.map((_, i) => ({ ...occlusionResult(scores, i * OCCLUSION_OUTPUTS.length), alignedEmbedding: embeddings[i] }));
}
