import type { ModelRunner } from '../models/registry';
import { runOnFaces } from './face-batch';
import { type Affine, cropToTensor } from './image-ops';
import { meshBox } from './landmarks';
import type { Box, Detection, Landmarks, RgbImage } from './types';

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

/** Which input planes fr-liveness gets first, and which of its three softmax classes means "live". */
export interface FrLivenessOptions {
  /** Face box enlargement before cropping; the package's own code uses 2.7. */
  scale: number;
  /** Order of the three input planes. Measured on the shared real photos: see docs/liveness-models.md. */
  channels: 'rgb' | 'bgr';
  /** Index of the live class in the model's 3-class softmax. Measured likewise. */
  liveClass: number;
}

/**
 * What the measurement in docs/liveness-models.md found: class 0 is "live", as the package's code reads it
 * (it wins on nearly every real photo in either channel order, class 2 on none), and BGR planes score real
 * photos live more often than the RGB the package feeds (shared real photos: class 0 wins 87/89 in BGR
 * against 81/89 in RGB).
 */
export const FR_LIVENESS_DEFAULTS: FrLivenessOptions = { scale: 2.7, channels: 'bgr', liveClass: 0 };

/** The face box a face is cropped around: a Detection's box, or the bounding box of a face's mesh. */
export function frLivenessBox(face: Landmarks | Detection): Box {
  return 'box' in face ? face.box : meshBox(face.mesh);
}

/**
 * The package's crop (fr_liveness.js alignLivenessImage): the box enlarged `scale` times about its centre,
 * the scale lowered so the crop fits in the image, then shifted inside it; not square, so the resize to the
 * model's input stretches it as the package's does. Returned as the map from input pixels to image pixels.
 */
export function frLivenessCrop(image: { width: number; height: number }, box: Box, scale: number, outSize: number): Affine {
  const s = Math.max(0, Math.min((image.height - 1) / box.height, (image.width - 1) / box.width, scale));
  const width = box.width * s;
  const height = box.height * s;
  let left = box.x + box.width / 2 - width / 2;
  let top = box.y + box.height / 2 - height / 2;
  left = Math.min(Math.max(left, 0), image.width - 1 - width);
  top = Math.min(Math.max(top, 0), image.height - 1 - height);
  return { a: width / outSize, b: 0, c: Math.max(left, 0), d: 0, e: height / outSize, f: Math.max(top, 0) };
}

/**
 * fr-liveness (faceplugin-face-recognition-js's fr_liveness.onnx) on each face: the probability of the live
 * class, 0..1. Faces are given by their landmarks (mesh bounding box) or their detection (BlazeFace box).
 * Not part of the service's decisions; evaluated against antispoof and liveness in docs/liveness-models.md.
 */
export async function frLivenessScores(
  image: RgbImage,
  faces: readonly (Landmarks | Detection)[],
  model: ModelRunner<'fr-liveness'>,
  options: FrLivenessOptions = FR_LIVENESS_DEFAULTS,
): Promise<number[]> {
  return (await frLivenessProbabilities(image, faces, model, options)).map((p) => p[options.liveClass]);
}

/** The model's softmax over its three classes for each face (batch is fixed at 1: one run per face). */
export async function frLivenessProbabilities(
  image: RgbImage,
  faces: readonly (Landmarks | Detection)[],
  model: ModelRunner<'fr-liveness'>,
  options: Pick<FrLivenessOptions, 'scale' | 'channels'> = FR_LIVENESS_DEFAULTS,
): Promise<number[][]> {
  const [channels, height, width] = model.imageShape;
  const range = model.entry.input.range;
  if (!range || channels !== 3 || height !== width) throw new Error(`${model.name}: expected a square 3-channel image input`);
  const plane = width * height;
  const out: number[][] = [];
  for (const face of faces) {
    const input = new Float32Array(3 * plane);
    cropToTensor(image, frLivenessCrop(image, frLivenessBox(face), options.scale, width), width, range, { data: input, offset: 0 });
    if (options.channels === 'bgr') {
      const red = input.slice(0, plane);
      input.copyWithin(0, 2 * plane, 3 * plane);
      input.set(red, 2 * plane);
    }
    const { output } = await model.run(input, 1);
    const peak = Math.max(...output);
    const exp = Array.from(output, (v) => Math.exp(v - peak));
    const sum = exp.reduce((a, b) => a + b, 0);
    out.push(exp.map((v) => v / sum));
  }
  return out;
}
