import type { ModelRunner } from '../models/registry';
import { type Affine, applyAffine, cropToTensor, squareCrop } from './image-ops';
import { MESH_MIRROR } from './mesh-mirror';
import type { Box, Detection, EyeLandmarks, Landmarks, Mesh, Point, Point3, RgbImage } from './types';

const MESH_INPUT = 192;
const IRIS_INPUT = 64;
/** MediaPipe's face-landmark region: the face box (or mesh extent) enlarged 1.5 times. */
const MESH_ROI_SCALE = 1.5;
/** MediaPipe's eye region: the eye-corner distance enlarged 2.3 times. */
const IRIS_ROI_SCALE = 2.3;

/** FaceMesh indices used across the pipeline. "Right" and "left" are the subject's. */
export const MESH = {
  rightEyeOuter: 33,
  rightEyeInner: 133,
  leftEyeOuter: 263,
  leftEyeInner: 362,
  upperLipInner: 13,
  lowerLipInner: 14,
  mouthRight: 61,
  mouthLeft: 291,
} as const;

/** Iris-model eye points: 0..8 lower lid from outer to inner corner, 9..15 upper lid above points 1..7. */
const LOWER_LID = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const UPPER_LID = [9, 10, 11, 12, 13, 14, 15];
const IRIS_FIRST = 71;

/** A square, roll-aligned region of the image. */
export interface Roi {
  center: Point;
  side: number;
  /** Radians; the region's x axis runs along the eye line. */
  angle: number;
}

function angleOf(from: Point, to: Point): number {
  return Math.atan2(to.y - from.y, to.x - from.x);
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** How the first FaceMesh crop is taken from a detection. */
export interface FirstCrop {
  /** The crop's side over the detection box's longer side. */
  scale: number;
  /**
   * Upright: not turned by the detector's eye keypoints, which a mask or sunglasses can throw off
   * (the mesh's own eye line turns the second pass).
   */
  upright: boolean;
  /**
   * Black beyond the image's edges in both FaceMesh crops, instead of the edge pixels repeated: a
   * tight crop (forehead or chin cut) otherwise shows the mesh a face smeared into stripes.
   */
  black?: boolean;
}

const DETECTOR_CROP: FirstCrop = { scale: MESH_ROI_SCALE, upright: false };

/** Sets to black (0 in the [0, 1] range) every crop pixel whose centre falls outside the image. */
function blackenOutside(image: RgbImage, m: Affine, outSize: number, target: { data: Float32Array; offset: number }): void {
  const plane = outSize * outSize;
  for (let y = 0; y < outSize; y++) {
    for (let x = 0; x < outSize; x++) {
      const p = applyAffine(m, { x: x + 0.5, y: y + 0.5 });
      if (p.x >= 0 && p.y >= 0 && p.x < image.width && p.y < image.height) continue;
      const i = target.offset + y * outSize + x;
      target.data[i] = target.data[i + plane] = target.data[i + 2 * plane] = 0;
    }
  }
}

function roiFromDetection(detection: Detection, crop: FirstCrop): Roi {
  const { box, keypoints } = detection;
  return {
    center: { x: box.x + box.width / 2, y: box.y + box.height / 2 },
    side: Math.max(box.width, box.height) * crop.scale,
    angle: crop.upright ? 0 : angleOf(keypoints.rightEye, keypoints.leftEye),
  };
}

/** The mesh's axis-aligned bounding box in image pixels. */
export function meshBox(mesh: Point3[]): Box {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const p of mesh) [minX, minY, maxX, maxY] = [Math.min(minX, p.x), Math.min(minY, p.y), Math.max(maxX, p.x), Math.max(maxY, p.y)];
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

/** The square spanning the mesh, measured along the eye line, enlarged `scale` times. */
export function meshRegion(mesh: Point3[], scale: number): Roi {
  const angle = angleOf(mesh[MESH.rightEyeOuter], mesh[MESH.leftEyeOuter]);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  let [minU, maxU, minV, maxV] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const p of mesh) {
    const u = p.x * cos + p.y * sin;
    const v = -p.x * sin + p.y * cos;
    [minU, maxU, minV, maxV] = [Math.min(minU, u), Math.max(maxU, u), Math.min(minV, v), Math.max(maxV, v)];
  }
  const u = (minU + maxU) / 2;
  const v = (minV + maxV) / 2;
  return {
    center: { x: u * cos - v * sin, y: u * sin + v * cos },
    side: Math.max(maxU - minU, maxV - minV) * scale,
    angle,
  };
}

/**
 * FaceMesh on each region. With `symmetric`, each region is also run mirrored in the same batch and
 * the two meshes are averaged (the mirrored one re-indexed through MESH_MIRROR): FaceMesh is not
 * exactly mirror-equivariant, and the average is, so yaw and roll change sign with the image.
 */
async function runMesh(
  image: RgbImage,
  rois: Roi[],
  facemesh: ModelRunner<'facemesh'>,
  symmetric: boolean,
  black = false,
): Promise<{ mesh: Point3[]; score: number }[]> {
  const views = symmetric ? 2 : 1;
  const plane = 3 * MESH_INPUT * MESH_INPUT;
  const input = new Float32Array(rois.length * views * plane);
  const maps: Affine[] = [];
  rois.forEach((roi, i) => {
    for (let v = 0; v < views; v++) {
      const m = squareCrop(roi.center, roi.side, roi.angle, MESH_INPUT, v === 1);
      const target = { data: input, offset: (i * views + v) * plane };
      cropToTensor(image, m, MESH_INPUT, [0, 1], target);
      if (black) blackenOutside(image, m, MESH_INPUT, target);
      maps.push(m);
    }
  });
  const out = await facemesh.run(input, rois.length * views);
  const landmarksOf = (j: number, depthScale: number): Point3[] => {
    const raw = out.mesh.subarray(j * 1404, (j + 1) * 1404);
    return Array.from({ length: 468 }, (_, k) => ({ ...applyAffine(maps[j], { x: raw[k * 3], y: raw[k * 3 + 1] }), z: raw[k * 3 + 2] * depthScale }));
  };
  return rois.map((roi, i) => {
    const depthScale = roi.side / MESH_INPUT;
    const direct = landmarksOf(i * views, depthScale);
    if (!symmetric) return { mesh: direct, score: out.face_flag[i] };
    const mirrored = landmarksOf(i * views + 1, depthScale);
    const mesh = direct.map((p, k) => {
      const q = mirrored[MESH_MIRROR[k]];
      return { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2, z: (p.z + q.z) / 2 };
    });
    return { mesh, score: Math.min(out.face_flag[i * views], out.face_flag[i * views + 1]) };
  });
}

function eyeRoi(mesh: Point3[], outer: number, inner: number, angle: number): Roi {
  const a = mesh[outer];
  const b = mesh[inner];
  return { center: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }, side: distance(a, b) * IRIS_ROI_SCALE, angle };
}

/** Both eyes of every face through the iris model; the model expects a right eye, so left eyes are mirrored. */
async function runIris(image: RgbImage, meshes: Point3[][], iris: ModelRunner<'iris'>): Promise<[EyeLandmarks, EyeLandmarks][]> {
  const plane = 3 * IRIS_INPUT * IRIS_INPUT;
  const input = new Float32Array(meshes.length * 2 * plane);
  const maps: Affine[] = [];
  meshes.forEach((mesh, i) => {
    const angle = angleOf(mesh[MESH.rightEyeOuter], mesh[MESH.leftEyeOuter]);
    const right = eyeRoi(mesh, MESH.rightEyeOuter, MESH.rightEyeInner, angle);
    const left = eyeRoi(mesh, MESH.leftEyeOuter, MESH.leftEyeInner, angle);
    maps.push(squareCrop(right.center, right.side, right.angle, IRIS_INPUT));
    maps.push(squareCrop(left.center, left.side, left.angle, IRIS_INPUT, true));
    cropToTensor(image, maps[2 * i], IRIS_INPUT, [0, 1], { data: input, offset: 2 * i * plane });
    cropToTensor(image, maps[2 * i + 1], IRIS_INPUT, [0, 1], { data: input, offset: (2 * i + 1) * plane });
  });
  const out = await iris.run(input, meshes.length * 2);
  const eye = (j: number): EyeLandmarks => {
    const raw = out.eye_and_iris.subarray(j * 228, (j + 1) * 228);
    const points: Point[] = [];
    for (let k = 0; k < 76; k++) points.push(applyAffine(maps[j], { x: raw[k * 3], y: raw[k * 3 + 1] }));
    const pupil = points[IRIS_FIRST];
    const ring = points.slice(IRIS_FIRST + 1, IRIS_FIRST + 5);
    return {
      pupil,
      irisRadius: ring.reduce((sum, p) => sum + distance(p, pupil), 0) / ring.length,
      contour: points.slice(0, IRIS_FIRST),
    };
  };
  return meshes.map((_, i) => [eye(2 * i), eye(2 * i + 1)]);
}

/**
 * FaceMesh on a roll-aligned crop around each detection, refined by a second, mirror-averaged pass
 * on the region the first mesh spans.
 */
export async function locateMeshes(image: RgbImage, detections: Detection[], facemesh: ModelRunner<'facemesh'>, crop: FirstCrop = DETECTOR_CROP): Promise<Mesh[]> {
  if (detections.length === 0) return [];
  const black = crop.black ?? false;
  const first = await runMesh(image, detections.map((d) => roiFromDetection(d, crop)), facemesh, false, black);
  const refined = await runMesh(image, first.map((f) => meshRegion(f.mesh, MESH_ROI_SCALE)), facemesh, true, black);
  return refined.map((r) => ({ mesh: r.mesh, meshScore: r.score }));
}

/**
 * The iris model on both eyes of each mesh. It runs on one batch of the faces given, and the model
 * gives each eye the same numbers, to the bit, whatever else is in its batch, so it can run on the
 * faces kept after the meshes are judged (test/pipeline/landmarks.test.ts).
 */
export async function addEyes<M extends Mesh>(image: RgbImage, meshes: M[], iris: ModelRunner<'iris'>): Promise<(M & Landmarks)[]> {
  if (meshes.length === 0) return [];
  const eyes = await runIris(image, meshes.map((m) => m.mesh), iris);
  return meshes.map((m, i) => ({ ...m, rightEye: eyes[i][0], leftEye: eyes[i][1] }));
}

/** FaceMesh (`locateMeshes`), then the iris model on both eyes (`addEyes`). */
export async function locateLandmarks(
  image: RgbImage,
  detections: Detection[],
  models: { facemesh: ModelRunner<'facemesh'>; iris: ModelRunner<'iris'> },
  crop: FirstCrop = DETECTOR_CROP,
): Promise<Landmarks[]> {
  return addEyes(image, await locateMeshes(image, detections, models.facemesh, crop), models.iris);
}

/** Eyelid opening over eye width, from the iris model's lid points (middle three pairs). */
export function eyeOpenness(eye: EyeLandmarks): number {
  const c = eye.contour;
  const width = distance(c[LOWER_LID[0]], c[LOWER_LID[8]]);
  const gaps = [2, 3, 4].map((k) => distance(c[UPPER_LID[k]], c[LOWER_LID[k + 1]]));
  return width > 0 ? gaps.reduce((a, b) => a + b, 0) / gaps.length / width : 0;
}
