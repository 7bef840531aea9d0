import sharp from 'sharp';
import type { ModelRunner } from '../models/registry';
import type { Box, Detection, FaceKeypoints, Point, RgbImage } from './types';

export interface DetectOptions {
  /** Minimum face score (sigmoid of the detector logit), 0..1. */
  scoreThreshold: number;
  /** Overlap above which two candidates are merged by weighted non-maximum suppression. */
  iouThreshold: number;
  /** Smallest face width, in source pixels, that must be found; smaller views of the image are tiled for it. */
  minFaceSize: number;
  maxFaces: number;
}

/** The second look, taken only when the first pass finds no face the mesh confirms. */
export interface SecondLookOptions {
  /** Lower face score down to which the first pass's boxes, and the padded view's, are kept for the second look. */
  secondLookScore: number;
  /** How many times its long side the extra whole-frame view is padded (tight crops: a face filling the frame). */
  secondLookZoomOut: number;
}

const INPUT = 256;
/** Smallest face (box width in detector pixels) the full-range BlazeFace finds reliably; measured in docs/evaluation.md. */
export const MIN_DETECTABLE_PX = 16;
/** Tiles overlap by this share of their side so a face on a seam is whole in one of them. */
const TILE_OVERLAP = 0.25;
/**
 * The full-range model misses faces that fill the frame, masked ones above all; a second view of
 * the whole frame padded to this many times its size shows them at a size it knows.
 */
const ZOOM_OUT = 2;

/** Anchor centres in detector pixels: a 16x16 grid with 2 anchors per cell, then an 8x8 grid with 6. */
export const ANCHORS: readonly Point[] = (() => {
  const anchors: Point[] = [];
  for (const [grid, perCell] of [
    [16, 2],
    [8, 6],
  ]) {
    const stride = INPUT / grid;
    for (let y = 0; y < grid; y++) {
      for (let x = 0; x < grid; x++) {
        for (let n = 0; n < perCell; n++) anchors.push({ x: stride * (x + 0.5), y: stride * (y + 0.5) });
      }
    }
  }
  return anchors;
})();

/** A square region of the source image (it may extend past the edges) seen by one detector run. */
interface View {
  x: number;
  y: number;
  side: number;
  /** Largest face width (source pixels) this view reports; tiles leave bigger faces to the whole-frame views. */
  maxFace: number;
}

interface Candidate {
  box: Box;
  score: number;
  keypoints: Point[];
}

/**
 * The whole frame, the whole frame zoomed out, and overlapping tiles small enough that a
 * `minFaceSize` face stays detectable.
 */
export function detectionViews(width: number, height: number, minFaceSize: number): View[] {
  const longSide = Math.max(width, height);
  const whole = (side: number): View => ({ x: (width - side) / 2, y: (height - side) / 2, side, maxFace: Infinity });
  const views: View[] = [whole(longSide), whole(longSide * ZOOM_OUT)];
  const tileSide = Math.floor((minFaceSize * INPUT) / MIN_DETECTABLE_PX);
  if (tileSide >= longSide) return views;
  const maxFace = (2 * MIN_DETECTABLE_PX * longSide) / INPUT;
  const side = Math.min(tileSide, Math.min(width, height));
  const step = side * (1 - TILE_OVERLAP);
  const columns = Math.max(1, Math.ceil((width - side) / step) + 1);
  const rows = Math.max(1, Math.ceil((height - side) / step) + 1);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const x = columns === 1 ? (width - side) / 2 : (column * (width - side)) / (columns - 1);
      const y = rows === 1 ? (height - side) / 2 : (row * (height - side)) / (rows - 1);
      views.push({ x, y, side, maxFace });
    }
  }
  return views;
}

/**
 * The view resized to the detector input, values scaled to [-1, 1], NCHW; outside the image is
 * black. The visible part is shrunk first and only then padded, so no view-sized buffer is made.
 */
async function viewTensor(image: RgbImage, view: View): Promise<Float32Array> {
  const scale = INPUT / view.side;
  const left = Math.max(0, Math.round(view.x));
  const top = Math.max(0, Math.round(view.y));
  const right = Math.min(image.width, Math.round(view.x + view.side));
  const bottom = Math.min(image.height, Math.round(view.y + view.side));
  const width = Math.min(INPUT, Math.max(1, Math.round((right - left) * scale)));
  const height = Math.min(INPUT, Math.max(1, Math.round((bottom - top) * scale)));
  const padLeft = Math.min(INPUT - width, Math.max(0, Math.round((left - view.x) * scale)));
  const padTop = Math.min(INPUT - height, Math.max(0, Math.round((top - view.y) * scale)));
  const { data } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: right - left, height: bottom - top })
    .resize(width, height, { kernel: 'linear', fit: 'fill' })
    .extend({ left: padLeft, top: padTop, right: INPUT - width - padLeft, bottom: INPUT - height - padTop, background: '#000000' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = INPUT * INPUT;
  const tensor = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) tensor[ch * plane + i] = data[i * 3 + ch] / 127.5 - 1;
  }
  return tensor;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Decodes one detector run into candidates in source pixels. */
function decode(
  outputs: { scores_16: Float32Array; scores_8: Float32Array; boxes_16: Float32Array; boxes_8: Float32Array },
  view: View,
  threshold: number,
): Candidate[] {
  const scale = view.side / INPUT;
  const toSource = (x: number, y: number): Point => ({ x: view.x + x * scale, y: view.y + y * scale });
  const candidates: Candidate[] = [];
  const blocks = [
    { scores: outputs.scores_16, boxes: outputs.boxes_16, first: 0 },
    { scores: outputs.scores_8, boxes: outputs.boxes_8, first: outputs.scores_16.length },
  ];
  for (const { scores, boxes, first } of blocks) {
    for (let i = 0; i < scores.length; i++) {
      const score = sigmoid(scores[i]);
      if (score < threshold) continue;
      const anchor = ANCHORS[first + i];
      const r = boxes.subarray(i * 16, i * 16 + 16);
      const center = toSource(anchor.x + r[0], anchor.y + r[1]);
      const width = r[2] * scale;
      const height = r[3] * scale;
      if (width > view.maxFace) continue;
      const keypoints: Point[] = [];
      for (let k = 0; k < 6; k++) keypoints.push(toSource(anchor.x + r[4 + 2 * k], anchor.y + r[5 + 2 * k]));
      candidates.push({ box: { x: center.x - width / 2, y: center.y - height / 2, width, height }, score, keypoints });
    }
  }
  return candidates;
}

function intersection(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  return Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
}

export function iou(a: Box, b: Box): number {
  const shared = intersection(a, b);
  const union = a.width * a.height + b.width * b.height - shared;
  return union > 0 ? shared / union : 0;
}

/** The share of the smaller box that the two boxes have in common. */
export function overlapOfSmaller(a: Box, b: Box): number {
  const smaller = Math.min(a.width * a.height, b.width * b.height);
  return smaller > 0 ? intersection(a, b) / smaller : 0;
}

/**
 * BlazeFace's weighted non-maximum suppression: each kept face is the score-weighted mean of every
 * candidate overlapping the best remaining one, which steadies boxes and keypoints.
 */
export function weightedNms(candidates: Candidate[], iouThreshold: number, maxFaces: number): Candidate[] {
  const remaining = [...candidates].sort((p, q) => q.score - p.score);
  const kept: Candidate[] = [];
  while (remaining.length > 0 && kept.length < maxFaces) {
    const best = remaining[0];
    const cluster = remaining.filter((c) => iou(c.box, best.box) > iouThreshold);
    const total = cluster.reduce((sum, c) => sum + c.score, 0);
    const mean = (pick: (c: Candidate) => number) => cluster.reduce((sum, c) => sum + pick(c) * c.score, 0) / total;
    kept.push({
      box: { x: mean((c) => c.box.x), y: mean((c) => c.box.y), width: mean((c) => c.box.width), height: mean((c) => c.box.height) },
      score: best.score,
      keypoints: best.keypoints.map((_, k) => ({ x: mean((c) => c.keypoints[k].x), y: mean((c) => c.keypoints[k].y) })),
    });
    for (const c of cluster) remaining.splice(remaining.indexOf(c), 1);
  }
  return kept;
}

function keypoints(points: Point[]): FaceKeypoints {
  const [rightEye, leftEye, noseTip, mouth, rightEar, leftEar] = points;
  return { rightEye, leftEye, noseTip, mouth, rightEar, leftEar };
}

function asDetections(candidates: Candidate[]): Detection[] {
  return candidates
    .map((c) => ({ box: c.box, confidence: c.score, keypoints: keypoints(c.keypoints) }))
    .sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
}

/** Runs the detector on each view; candidates at or above `threshold`. */
async function runViews(image: RgbImage, detector: ModelRunner<'blazeface'>, views: View[], threshold: number): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for (const view of views) {
    const outputs = await detector.run(await viewTensor(image, view));
    candidates.push(...decode(outputs, view, threshold));
  }
  return candidates;
}

/**
 * Finds faces with BlazeFace, largest first: `faces` at the score threshold and, from the same
 * detector runs, `reserve`: the boxes scoring from `reserveScore` up to the threshold, for a second
 * look when no face is confirmed (no extra model run).
 */
export async function detectWithReserve(
  image: RgbImage,
  detector: ModelRunner<'blazeface'>,
  options: DetectOptions,
  reserveScore = options.scoreThreshold,
): Promise<{ faces: Detection[]; reserve: Detection[] }> {
  const low = Math.min(reserveScore, options.scoreThreshold);
  const candidates = await runViews(image, detector, detectionViews(image.width, image.height, options.minFaceSize), low);
  const sure = candidates.filter((c) => c.score >= options.scoreThreshold);
  const unsure = candidates.filter((c) => c.score < options.scoreThreshold);
  return {
    faces: asDetections(weightedNms(sure, options.iouThreshold, options.maxFaces)),
    reserve: asDetections(weightedNms(unsure, options.iouThreshold, options.maxFaces)),
  };
}

/** Finds faces with BlazeFace, largest first. */
export async function detectFaces(image: RgbImage, detector: ModelRunner<'blazeface'>, options: DetectOptions): Promise<Detection[]> {
  return (await detectWithReserve(image, detector, options)).faces;
}

/**
 * One more detector run for the second look: the whole frame padded to `zoomOut` times its long
 * side, so a face that fills a tight crop is seen at a size the detector knows; boxes at or above
 * `threshold`.
 */
export async function detectZoomedOut(image: RgbImage, detector: ModelRunner<'blazeface'>, zoomOut: number, threshold: number, options: DetectOptions): Promise<Detection[]> {
  const side = Math.max(image.width, image.height) * zoomOut;
  const view: View = { x: (image.width - side) / 2, y: (image.height - side) / 2, side, maxFace: Infinity };
  return asDetections(weightedNms(await runViews(image, detector, [view], threshold), options.iouThreshold, options.maxFaces));
}
