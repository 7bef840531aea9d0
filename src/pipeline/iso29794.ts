/**
 * The native values of the ISO/IEC 29794-5 quality components that FaceGate's analysis does not
 * already give: pixel statistics of the face and of the background beside the head, and mesh
 * ratios. The 0–100 mappings are in src/gate/iso29794.ts; docs/quality.md (ISO/IEC 29794-5) gives
 * each definition next to the reference implementation's (OFIQ's).
 */
import type { EyeLandmarks, Geometry, Landmarks, Point, RgbImage } from './types';

/** MediaPipe's face-oval ring of FaceMesh indices, forehead top first, clockwise in the image. */
const FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109];
const FOREHEAD_TOP = 10;
const CHIN = 152;
/** Inner-lip pairs, upper then lower, from the subject's right corner to the left. */
const INNER_LIP_PAIRS: [number, number][] = [
  [80, 88],
  [81, 178],
  [82, 87],
  [13, 14],
  [312, 317],
  [311, 402],
  [310, 318],
];
/** Iris-model eye contour: 0..8 lower lid, 9..15 upper lid above points 1..7. */
const UPPER_LID_FIRST = 9;
const UPPER_LIDS = 7;

/** The face is sampled so that the pupils are about this many samples apart (OFIQ measures on an aligned face of fixed size). */
const SAMPLES_PER_IPD = 60;
/** The background, larger and smoother, more coarsely: a quarter of the samples keeps the measure cheap on large images. */
const BACKGROUND_SAMPLES_PER_IPD = 30;
/** Hair and ears: the head spans the face oval widened by this share of its width on each side. */
const HEAD_WIDENING = 0.25;
/** Below this share of the sampled image above the chin, too little background shows to judge it. */
const MIN_BACKGROUND_SHARE = 0.05;
/** OFIQ's exposure limits on 8-bit luminance. */
const UNDER_EXPOSED_AT_MOST = 25;
const OVER_EXPOSED_AT_LEAST = 247;

export interface IsoPixelMeasures {
  /** Mean Sobel gradient magnitude of the luminance (0..255) beside the head, above the chin; null when too little of it shows. */
  backgroundGradient: number | null;
  /** Sum of the bin-wise minima of the two face halves' normalised luminance histograms, 0..1 (1 = the halves are lit alike). */
  illuminationOverlap: number;
  /** Mean face luminance, 0..1. */
  luminanceMean: number;
  /** Variance of the face luminance on the 0..1 scale. */
  luminanceVariance: number;
  /** Shares of face pixels with luminance at most 25 and at least 247. */
  underExposedShare: number;
  overExposedShare: number;
  /** Entropy of the face's 256-bin luminance histogram, bits. */
  luminanceEntropy: number;
  /** Mean CIELAB a* and b* of the face. */
  colourA: number;
  colourB: number;
}

const SRGB_TO_LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

const labF = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);

/** CIELAB a* and b* (D65) of an 8-bit sRGB pixel. */
function labAB(r: number, g: number, b: number): { a: number; b: number } {
  const [lr, lg, lb] = [SRGB_TO_LINEAR[r], SRGB_TO_LINEAR[g], SRGB_TO_LINEAR[b]];
  const fx = labF((0.4124 * lr + 0.3576 * lg + 0.1805 * lb) / 0.95047);
  const fy = labF(0.2126 * lr + 0.7152 * lg + 0.0722 * lb);
  const fz = labF((0.0193 * lr + 0.1192 * lg + 0.9505 * lb) / 1.08883);
  return { a: 500 * (fx - fy), b: 200 * (fy - fz) };
}

const lumaOf = (data: Uint8Array, i: number) => 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2];

function entropy(histogram: Float64Array, total: number): number {
  let bits = 0;
  for (const count of histogram) if (count > 0) bits -= (count / total) * Math.log2(count / total);
  return bits;
}

/** The x ranges inside `polygon` along the row y (even-odd rule), as [from, to] pairs. */
function rowSpans(polygon: Point[], y: number): number[] {
  const crossings: number[] = [];
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [a, b] = [polygon[i], polygon[j]];
    if (a.y > y !== b.y > y) crossings.push(((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x);
  }
  return crossings.sort((p, q) => p - q);
}

/** Luminance, exposure, contrast, colour and the evenness of light over the face oval, sampled at SAMPLES_PER_IPD. */
function faceStatistics(image: RgbImage, landmarks: Landmarks, step: number): Omit<IsoPixelMeasures, 'backgroundGradient'> {
  const oval = FACE_OVAL.map((i) => landmarks.mesh[i]);
  const top = landmarks.mesh[FOREHEAD_TOP];
  const chin = landmarks.mesh[CHIN];
  const ys = oval.map((p) => p.y);
  const halves = [new Float64Array(256), new Float64Array(256)];
  const histogram = new Float64Array(256);
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let under = 0;
  let over = 0;
  let sumA = 0;
  let sumB = 0;
  for (let y = Math.max(0, Math.min(...ys)); y <= Math.min(image.height - 1, Math.max(...ys)); y += step) {
    const spans = rowSpans(oval, y);
    const row = Math.floor(y) * image.width;
    for (let k = 0; k + 1 < spans.length; k += 2) {
      // Samples on the grid x = step · i, so that neighbouring rows sample alike.
      for (let x = Math.max(0, Math.ceil(spans[k] / step) * step); x <= Math.min(image.width - 1, spans[k + 1]); x += step) {
        const i = (row + Math.floor(x)) * 3;
        const luma = lumaOf(image.data, i);
        const bin = Math.min(255, Math.round(luma));
        // Which side of the midline (forehead top to chin) the sample lies on.
        const side = (chin.x - top.x) * (y - top.y) - (chin.y - top.y) * (x - top.x) > 0 ? 0 : 1;
        halves[side][bin]++;
        histogram[bin]++;
        const v = luma / 255;
        n++;
        sum += v;
        sumSq += v * v;
        if (luma <= UNDER_EXPOSED_AT_MOST) under++;
        if (luma >= OVER_EXPOSED_AT_LEAST) over++;
        const lab = labAB(image.data[i], image.data[i + 1], image.data[i + 2]);
        sumA += lab.a;
        sumB += lab.b;
      }
    }
  }
  if (n === 0) return { illuminationOverlap: 0, luminanceMean: 0, luminanceVariance: 0, underExposedShare: 0, overExposedShare: 0, luminanceEntropy: 0, colourA: 0, colourB: 0 };
  const [left, right] = halves.map((h) => h.reduce((s, c) => s + c, 0));
  let overlap = 0;
  if (left > 0 && right > 0) for (let b = 0; b < 256; b++) overlap += Math.min(halves[0][b] / left, halves[1][b] / right);
  const mean = sum / n;
  return {
    illuminationOverlap: overlap,
    luminanceMean: mean,
    luminanceVariance: Math.max(0, sumSq / n - mean * mean),
    underExposedShare: under / n,
    overExposedShare: over / n,
    luminanceEntropy: entropy(histogram, n),
    colourA: sumA / n,
    colourB: sumB / n,
  };
}

/**
 * Mean Sobel gradient magnitude of the luminance beside the head, sampled every `step` pixels:
 * the rows from the image top down to the chin, left and right of the face oval widened by
 * HEAD_WIDENING (hair, ears); below the chin are neck and clothes, which no shipped model tells
 * from background. Null when that zone is under MIN_BACKGROUND_SHARE of the sampled rows (a face
 * filling the frame).
 */
function backgroundGradient(image: RgbImage, landmarks: Landmarks, step: number): number | null {
  const oval = FACE_OVAL.map((i) => landmarks.mesh[i]);
  const xs = oval.map((p) => p.x);
  const widen = (Math.max(...xs) - Math.min(...xs)) * HEAD_WIDENING;
  const [headLeft, headRight] = [Math.min(...xs) - widen, Math.max(...xs) + widen];
  const columns = Math.floor((image.width - 1) / step) + 1;
  const rows = Math.min(Math.floor((image.height - 1) / step) + 1, Math.floor(landmarks.mesh[CHIN].y / step) + 1);
  if (rows < 3 || columns < 3) return null;
  const grid = new Float32Array(columns * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) grid[r * columns + c] = lumaOf(image.data, (Math.floor(r * step) * image.width + Math.floor(c * step)) * 3);
  }
  let total = 0;
  let count = 0;
  for (let r = 1; r < rows - 1; r++) {
    for (let c = 1; c < columns - 1; c++) {
      const x = c * step;
      if (x >= headLeft && x <= headRight) continue;
      const i = r * columns + c;
      const gx = grid[i - columns + 1] + 2 * grid[i + 1] + grid[i + columns + 1] - grid[i - columns - 1] - 2 * grid[i - 1] - grid[i + columns - 1];
      const gy = grid[i + columns - 1] + 2 * grid[i + columns] + grid[i + columns + 1] - grid[i - columns - 1] - 2 * grid[i - columns] - grid[i - columns + 1];
      total += Math.sqrt(gx * gx + gy * gy);
      count++;
    }
  }
  return count >= MIN_BACKGROUND_SHARE * rows * columns ? total / count : null;
}

/** The pixel statistics of the ISO components, on the decoded image (every value is free of the image's scale). */
export function measureIsoPixels(image: RgbImage, landmarks: Landmarks): IsoPixelMeasures {
  const ipd = Math.hypot(landmarks.leftEye.pupil.x - landmarks.rightEye.pupil.x, landmarks.leftEye.pupil.y - landmarks.rightEye.pupil.y);
  return {
    backgroundGradient: backgroundGradient(image, landmarks, Math.max(1, ipd / BACKGROUND_SAMPLES_PER_IPD)),
    ...faceStatistics(image, landmarks, Math.max(1, ipd / SAMPLES_PER_IPD)),
  };
}

export interface IsoGeometryMeasures {
  /** T: eye midpoint (between the pupils) to the chin, pixels. */
  eyesToChin: number;
  /** The smaller eye's largest eyelid gap over T. */
  eyesOpen: number;
  /** The largest inner-lip gap over T. */
  mouthOpen: number;
  /** Inter-pupil distance over cos(yaw), pixels. */
  interEyeDistance: number;
  /** T over the image height. */
  headSize: number;
  /** The nearer pupil's distance to the left and right image edges over the inter-pupil distance. */
  leftwardCrop: number;
  rightwardCrop: number;
  /** Eye midpoint's distance to the top edge, and to the bottom edge, over T. */
  marginAbove: number;
  marginBelow: number;
}

const distance = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);

function largestLidGap(eye: EyeLandmarks): number {
  let gap = 0;
  for (let k = 0; k < UPPER_LIDS; k++) gap = Math.max(gap, distance(eye.contour[UPPER_LID_FIRST + k], eye.contour[k + 1]));
  return gap;
}

/** The mesh ratios of the ISO components, in the pixels of the image as sent. */
export function measureIsoGeometry(landmarks: Landmarks, geometry: Geometry, image: { width: number; height: number }): IsoGeometryMeasures {
  const { pupilRight, pupilLeft, ipd } = geometry;
  const eyes = { x: (pupilRight.x + pupilLeft.x) / 2, y: (pupilRight.y + pupilLeft.y) / 2 };
  const t = Math.max(1e-6, distance(eyes, landmarks.mesh[CHIN]));
  const mouthGap = Math.max(...INNER_LIP_PAIRS.map(([u, l]) => distance(landmarks.mesh[u], landmarks.mesh[l])));
  const safeIpd = Math.max(1e-6, ipd);
  return {
    eyesToChin: t,
    eyesOpen: Math.min(largestLidGap(landmarks.rightEye), largestLidGap(landmarks.leftEye)) / t,
    mouthOpen: mouthGap / t,
    interEyeDistance: ipd / Math.max(1e-6, Math.cos((geometry.yaw * Math.PI) / 180)),
    headSize: t / image.height,
    leftwardCrop: Math.min(pupilRight.x, pupilLeft.x) / safeIpd,
    rightwardCrop: (image.width - Math.max(pupilRight.x, pupilLeft.x)) / safeIpd,
    marginAbove: eyes.y / t,
    marginBelow: (image.height - eyes.y) / t,
  };
}
