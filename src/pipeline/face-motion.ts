import { MESH } from './landmarks';
import type { Point, Point3 } from './types';

/** FaceMesh eye corners and mid-lid points ("right" and "left" are the subject's). */
const EYE = {
  right: { outer: MESH.rightEyeOuter, inner: MESH.rightEyeInner, upper: 159, lower: 145 },
  left: { outer: MESH.leftEyeOuter, inner: MESH.leftEyeInner, upper: 386, lower: 374 },
} as const;
const MOUTH = { upper: MESH.upperLipInner, lower: MESH.lowerLipInner, right: MESH.mouthRight, left: MESH.mouthLeft } as const;

/** A 3x3 projective transform, row-major. */
export type Homography = [number, number, number, number, number, number, number, number, number];

export interface FaceMotion {
  /** Meshes compared (every frame whose face was found). */
  frames: number;
  /**
   * The largest, over frames 2..n, of the 90th percentile of the point residuals left by the best
   * homography from the first frame's mesh to that frame's, over the mesh's RMS radius (a face size that
   * a turn foreshortens less than the inter-eye distance; it separated replays better). A flat picture
   * panned, zoomed, rotated or tilted maps by a homography and leaves only landmark jitter; a face that
   * blinks or turns (parallax between nose and cheeks) does not.
   */
  nonRigid: number;
  /** The same with the 99th percentile, which a motion of few points (a blink) reaches before the 90th. */
  nonRigidLocal: number;
  /** Per frame after the first: p90 and p99 residual over the mesh's RMS radius, and that radius and the inter-eye distance in pixels. */
  perFrame: { p90: number; p99: number; radius: number; interEye: number }[];
  /** Largest minus smallest eyelid opening over eye width (mean of both eyes), across frames. */
  eyeOpennessRange: number;
  /** Largest minus smallest inner-lip opening over mouth width, across frames. */
  mouthOpennessRange: number;
}

const dist = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);

/** Centre of the points and the scale that brings their mean distance from it to sqrt(2) (Hartley). */
function normaliser(points: Point[]): { cx: number; cy: number; s: number } {
  let cx = 0;
  let cy = 0;
  for (const p of points) [cx, cy] = [cx + p.x, cy + p.y];
  [cx, cy] = [cx / points.length, cy / points.length];
  let mean = 0;
  for (const p of points) mean += Math.hypot(p.x - cx, p.y - cy);
  mean /= points.length;
  return { cx, cy, s: mean > 0 ? Math.SQRT2 / mean : 1 };
}

/** Eigenvector of the smallest eigenvalue of a symmetric matrix, by cyclic Jacobi rotations. */
function smallestEigenvector(m: number[][]): number[] {
  const n = m.length;
  const a = m.map((row) => [...row]);
  const v: number[][] = a.map((_, i) => a.map((__, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const [akp, akq] = [a[k][p], a[k][q]];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const [apk, aqk] = [a[p][k], a[q][k]];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const [vkp, vkq] = [v[k][p], v[k][q]];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (a[i][i] < a[best][best]) best = i;
  return v.map((row) => row[best]);
}

/** Least-squares homography taking `from` to `to` (normalised DLT); needs at least 4 point pairs. */
export function fitHomography(from: Point[], to: Point[]): Homography {
  if (from.length !== to.length || from.length < 4) throw new Error('fitHomography needs two equal lists of at least 4 points');
  const nf = normaliser(from);
  const nt = normaliser(to);
  const ata = Array.from({ length: 9 }, () => new Array<number>(9).fill(0));
  const accumulate = (row: number[]) => {
    for (let i = 0; i < 9; i++) for (let j = i; j < 9; j++) ata[i][j] += row[i] * row[j];
  };
  for (let k = 0; k < from.length; k++) {
    const x = (from[k].x - nf.cx) * nf.s;
    const y = (from[k].y - nf.cy) * nf.s;
    const u = (to[k].x - nt.cx) * nt.s;
    const w = (to[k].y - nt.cy) * nt.s;
    accumulate([-x, -y, -1, 0, 0, 0, u * x, u * y, u]);
    accumulate([0, 0, 0, -x, -y, -1, w * x, w * y, w]);
  }
  for (let i = 0; i < 9; i++) for (let j = 0; j < i; j++) ata[i][j] = ata[j][i];
  const h = smallestEigenvector(ata);
  // Undo the normalisations: H = Tto^-1 * Hn * Tfrom.
  const tf = [nf.s, 0, -nf.s * nf.cx, 0, nf.s, -nf.s * nf.cy, 0, 0, 1];
  const ttInv = [1 / nt.s, 0, nt.cx, 0, 1 / nt.s, nt.cy, 0, 0, 1];
  const result = multiply(ttInv, multiply(h, tf));
  const scale = Math.abs(result[8]) > 1e-12 ? result[8] : 1;
  return result.map((x) => x / scale) as Homography;
}

function multiply(a: number[], b: number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[3 * i + j] += a[3 * i + k] * b[3 * k + j];
  return out;
}

export function applyHomography(h: Homography, p: Point): Point {
  const d = h[6] * p.x + h[7] * p.y + h[8];
  return { x: (h[0] * p.x + h[1] * p.y + h[2]) / d, y: (h[3] * p.x + h[4] * p.y + h[5]) / d };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

function interEye(mesh: Point3[]): number {
  const centre = (e: (typeof EYE)['right' | 'left']): Point => ({ x: (mesh[e.outer].x + mesh[e.inner].x) / 2, y: (mesh[e.outer].y + mesh[e.inner].y) / 2 });
  return dist(centre(EYE.right), centre(EYE.left));
}

function eyeOpenness(mesh: Point3[]): number {
  const one = (e: (typeof EYE)['right' | 'left']) => dist(mesh[e.upper], mesh[e.lower]) / Math.max(dist(mesh[e.outer], mesh[e.inner]), 1e-9);
  return (one(EYE.right) + one(EYE.left)) / 2;
}

function mouthOpenness(mesh: Point3[]): number {
  return dist(mesh[MOUTH.upper], mesh[MOUTH.lower]) / Math.max(dist(mesh[MOUTH.right], mesh[MOUTH.left]), 1e-9);
}

/** Root-mean-square distance of the points from their centroid, in pixels. */
function rmsRadius(mesh: Point3[]): number {
  const cx = mesh.reduce((s, p) => s + p.x, 0) / mesh.length;
  const cy = mesh.reduce((s, p) => s + p.y, 0) / mesh.length;
  return Math.sqrt(mesh.reduce((s, p) => s + (p.x - cx) ** 2 + (p.y - cy) ** 2, 0) / mesh.length);
}

const range = (xs: number[]) => (xs.length ? Math.max(...xs) - Math.min(...xs) : 0);

/**
 * How much the face in a sequence of FaceMesh meshes (one per sampled frame, in order) moved in a way
 * no flat picture moved as a whole can: each frame's mesh is compared with the first through the
 * homography that best maps one onto the other. Fewer than two meshes give zero motion.
 */
export function faceMotion(meshes: Point3[][]): FaceMotion {
  const empty: FaceMotion = { frames: meshes.length, nonRigid: 0, nonRigidLocal: 0, perFrame: [], eyeOpennessRange: 0, mouthOpennessRange: 0 };
  if (meshes.length < 2) return empty;
  const [first] = meshes;
  const perFrame = meshes.slice(1).map((mesh) => {
    if (mesh.length !== first.length) throw new Error(`meshes of ${first.length} and ${mesh.length} points`);
    const h = fitHomography(first, mesh);
    const radius = Math.max(rmsRadius(mesh), 1e-9);
    const residuals = first.map((p, i) => dist(applyHomography(h, p), mesh[i]) / radius);
    return { p90: quantile(residuals, 0.9), p99: quantile(residuals, 0.99), radius, interEye: interEye(mesh) };
  });
  return {
    frames: meshes.length,
    nonRigid: Math.max(...perFrame.map((f) => f.p90)),
    nonRigidLocal: Math.max(...perFrame.map((f) => f.p99)),
    perFrame,
    eyeOpennessRange: range(meshes.map(eyeOpenness)),
    mouthOpennessRange: range(meshes.map(mouthOpenness)),
  };
}
