import { cropToImage, luminance, squareCrop } from './image-ops';
import { MESH } from './landmarks';
import type { Landmarks, Photometry, Point, RgbImage } from './types';

/** The face is resampled so the pupils are this many pixels apart before anything is measured. */
export const NORMALIZED_IPD = 48;
/** The measured square spans this many inter-pupil distances: brows to chin, cheek to cheek. */
const REGION_IN_IPDS = 2.2;
const SIZE = Math.round(NORMALIZED_IPD * REGION_IN_IPDS);
/** Luminance levels (0..255) below or above which a pixel counts as clipped. */
const UNDER = 20;
const OVER = 245;

function percentile(sorted: Float32Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))];
}

/** The aligned face region, centred between the pupils and the mouth, at the normalised scale. */
export function normalizedFace(image: RgbImage, landmarks: Landmarks): RgbImage {
  const { rightEye, leftEye, mesh } = landmarks;
  const eyes: Point = { x: (rightEye.pupil.x + leftEye.pupil.x) / 2, y: (rightEye.pupil.y + leftEye.pupil.y) / 2 };
  const mouth = mesh[MESH.upperLipInner];
  const center = { x: (eyes.x + mouth.x) / 2, y: (eyes.y + mouth.y) / 2 };
  const ipd = Math.hypot(leftEye.pupil.x - rightEye.pupil.x, leftEye.pupil.y - rightEye.pupil.y);
  const angle = Math.atan2(leftEye.pupil.y - rightEye.pupil.y, leftEye.pupil.x - rightEye.pupil.x);
  return cropToImage(image, squareCrop(center, ipd * REGION_IN_IPDS, angle, SIZE), SIZE, SIZE);
}

/** Variance of the 4-neighbour Laplacian over the interior of a luminance plane. */
export function laplacianVariance(plane: Float32Array, width: number, height: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v = plane[i - 1] + plane[i + 1] + plane[i - width] + plane[i + width] - 4 * plane[i];
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  const mean = sum / n;
  return sumSq / n - mean * mean;
}

/** The face's central band (eye line to mouth, between the outer eye corners) at native resolution, as luminance. */
function nativeFaceBand(image: RgbImage, landmarks: Landmarks): { lum: Float32Array; width: number; height: number; x0: number; y0: number } {
  const { mesh } = landmarks;
  const xs = [mesh[MESH.rightEyeOuter].x, mesh[MESH.leftEyeOuter].x];
  const ys = [mesh[MESH.rightEyeOuter].y, mesh[MESH.leftEyeOuter].y, mesh[MESH.upperLipInner].y];
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(image.width, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(image.height, Math.ceil(Math.max(...ys)));
  const width = Math.max(0, x1 - x0);
  const height = Math.max(0, y1 - y0);
  const lum = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = ((y0 + y) * image.width + x0 + x) * 3;
      lum[y * width + x] = 0.299 * image.data[i] + 0.587 * image.data[i + 1] + 0.114 * image.data[i + 2];
    }
  }
  return { lum, width, height, x0, y0 };
}

/** Immerkær's noise estimate: the mean absolute response to a Laplacian-difference mask that cancels smooth structure. */
export function noiseSigma(lum: Float32Array, width: number, height: number): number {
  if (width < 3 || height < 3) return 0;
  let total = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v =
        lum[i - width - 1] - 2 * lum[i - width] + lum[i - width + 1] -
        2 * lum[i - 1] + 4 * lum[i] - 2 * lum[i + 1] +
        lum[i + width - 1] - 2 * lum[i + width] + lum[i + width + 1];
      total += Math.abs(v);
    }
  }
  return (Math.sqrt(Math.PI / 2) * total) / (6 * (width - 2) * (height - 2));
}

/** Mean step across 8x8 JPEG block boundaries (image-aligned) over the mean step inside blocks. */
export function blockiness(band: { lum: Float32Array; width: number; height: number; x0: number; y0: number }): number {
  const { lum, width, height, x0, y0 } = band;
  let [edge, edgeCount, inner, innerCount] = [0, 0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width - 1; x++) {
      const step = Math.abs(lum[y * width + x + 1] - lum[y * width + x]);
      if ((x0 + x + 1) % 8 === 0) [edge, edgeCount] = [edge + step, edgeCount + 1];
      else [inner, innerCount] = [inner + step, innerCount + 1];
    }
  }
  for (let y = 0; y < height - 1; y++) {
    for (let x = 0; x < width; x++) {
      const step = Math.abs(lum[(y + 1) * width + x] - lum[y * width + x]);
      if ((y0 + y + 1) % 8 === 0) [edge, edgeCount] = [edge + step, edgeCount + 1];
      else [inner, innerCount] = [inner + step, innerCount + 1];
    }
  }
  if (edgeCount === 0 || innerCount === 0 || inner === 0) return 1;
  return edge / edgeCount / (inner / innerCount);
}

/** Exposure, contrast, sharpness, noise, compression and evenness of light over the face. */
export function measurePhotometry(image: RgbImage, landmarks: Landmarks): Photometry {
  const face = normalizedFace(image, landmarks);
  const lum = luminance(face);
  const band = nativeFaceBand(image, landmarks);
  const sorted = Float32Array.from(lum).sort();
  let total = 0;
  let under = 0;
  let over = 0;
  let leftSum = 0;
  let rightSum = 0;
  for (let i = 0; i < lum.length; i++) {
    total += lum[i];
    if (lum[i] < UNDER) under++;
    if (lum[i] > OVER) over++;
    if (i % SIZE < SIZE / 2) rightSum += lum[i];
    else leftSum += lum[i];
  }
  const half = lum.length / 2;
  const sides = [leftSum / half, rightSum / half];
  return {
    brightness: total / lum.length / 255,
    underExposed: under / lum.length,
    overExposed: over / lum.length,
    dynamicRange: (percentile(sorted, 99) - percentile(sorted, 1)) / 255,
    sharpness: laplacianVariance(lum, SIZE, SIZE),
    illuminationUniformity: Math.max(...sides) > 0 ? Math.min(...sides) / Math.max(...sides) : 1,
    noise: noiseSigma(band.lum, band.width, band.height),
    blockiness: blockiness(band),
  };
}
