import type { Affine } from './image-ops';
import { MESH } from './landmarks';
import type { Landmarks, Point } from './types';

/**
 * The five points ArcFace-family recognisers are trained on, in a 112x112 crop: the eye centres,
 * the nose tip and the mouth corners, image-left first (the subject's right eye and mouth corner).
 * Pixel-centre coordinates as OpenCV uses them (pixel i centred on i).
 */
export const ARCFACE_TEMPLATE_112: readonly Point[] = [
  { x: 38.2946, y: 51.6963 },
  { x: 73.5318, y: 51.5014 },
  { x: 56.0252, y: 71.7366 },
  { x: 41.5493, y: 92.3655 },
  { x: 70.7299, y: 92.2041 },
];

const NOSE_TIP = 4;

/** The face's five alignment points, in the template's order: pupils, nose tip, mouth corners. */
export function fivePoints(landmarks: Landmarks): Point[] {
  const { mesh } = landmarks;
  return [landmarks.rightEye.pupil, landmarks.leftEye.pupil, mesh[NOSE_TIP], mesh[MESH.mouthRight], mesh[MESH.mouthLeft]];
}

/**
 * The least-squares similarity (scale, rotation, shift; Umeyama 1991) taking `from` onto `to`:
 * to ≈ s·R·from + t. Returned as an Affine in from-space.
 */
export function similarityFit(from: readonly Point[], to: readonly Point[]): Affine {
  const n = from.length;
  const mean = (ps: readonly Point[]) => ps.reduce((m, p) => ({ x: m.x + p.x / n, y: m.y + p.y / n }), { x: 0, y: 0 });
  const mf = mean(from);
  const mt = mean(to);
  // With complex numbers z = x + iy, the best similarity is t + c·z with c = Σ conj(f)·g / Σ |f|².
  let re = 0;
  let im = 0;
  let norm = 0;
  for (let k = 0; k < n; k++) {
    const fx = from[k].x - mf.x;
    const fy = from[k].y - mf.y;
    const gx = to[k].x - mt.x;
    const gy = to[k].y - mt.y;
    re += fx * gx + fy * gy;
    im += fx * gy - fy * gx;
    norm += fx * fx + fy * fy;
  }
  const a = re / norm;
  const b = im / norm;
  return { a, b: -b, c: mt.x - a * mf.x + b * mf.y, d: b, e: a, f: mt.y - b * mf.x - a * mf.y };
}

/** The inverse of an affine map. */
export function inverse(m: Affine): Affine {
  const det = m.a * m.e - m.b * m.d;
  const a = m.e / det;
  const b = -m.b / det;
  const d = -m.d / det;
  const e = m.a / det;
  return { a, b, c: -(a * m.c + b * m.f), d, e, f: -(d * m.c + e * m.f) };
}

/**
 * The map from crop pixels to image pixels that puts the face's five points on the ArcFace
 * template, for a crop of `size` (the template scaled from 112). With `mirror`, the crop is
 * flipped left to right. Coordinates are continuous (pixel i spans [i, i+1)), so the template's
 * pixel-centre points move by half a pixel.
 */
export function arcfaceAlignment(landmarks: Landmarks, size: number, mirror = false): Affine {
  const scale = size / 112;
  const template = ARCFACE_TEMPLATE_112.map((p) => ({ x: (p.x + 0.5) * scale, y: (p.y + 0.5) * scale }));
  const toImage = inverse(similarityFit(fivePoints(landmarks), template));
  if (!mirror) return toImage;
  // Crop pixel x shows what the unmirrored crop shows at size - x.
  return { a: -toImage.a, b: toImage.b, c: toImage.a * size + toImage.c, d: -toImage.d, e: toImage.e, f: toImage.d * size + toImage.f };
}
