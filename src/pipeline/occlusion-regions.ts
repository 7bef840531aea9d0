import { MESH_MIRROR } from './mesh-mirror';
import type { Landmarks, Point } from './types';

export const OCCLUSION_REGIONS = [
  'cheek_left',
  'cheek_right',
  'chin',
  'eye_left',
  'eye_right',
  'eyebrow_left',
  'eyebrow_right',
  'forehead',
  'mouth',
  'nose',
] as const;
export type OcclusionRegion = (typeof OCCLUSION_REGIONS)[number];

const mirror = (polygon: number[]) => polygon.map((i) => MESH_MIRROR[i]);

/** The subject's right side (image left in an unmirrored photo); left-side polygons are its mirror. */
const RIGHT_EYE = [130, 247, 30, 29, 27, 28, 56, 190, 243, 112, 26, 22, 23, 24, 110, 25];
const RIGHT_EYEBROW = [156, 70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 124, 35];
const RIGHT_CHEEK = [143, 111, 117, 118, 119, 120, 121, 128, 245, 129, 98, 61, 172, 58, 132, 93, 234, 127];

/**
 * Each region as a polygon of FaceMesh landmark indices, in order around its outline. Lip, eye and
 * brow rings follow MediaPipe's mesh annotations; cheeks run from the under-eye ring to the nose
 * wing, mouth corner and jaw; the chin from the lower lip to the jaw.
 */
export const REGION_POLYGONS: Record<OcclusionRegion, readonly number[]> = {
  eye_right: RIGHT_EYE,
  eye_left: mirror(RIGHT_EYE),
  eyebrow_right: RIGHT_EYEBROW,
  eyebrow_left: mirror(RIGHT_EYEBROW),
  cheek_right: RIGHT_CHEEK,
  cheek_left: mirror(RIGHT_CHEEK),
  forehead: [54, 103, 67, 109, 10, 338, 297, 332, 284, 300, 293, 334, 296, 336, 9, 107, 66, 105, 63, 70],
  nose: [168, 465, 357, 327, 2, 98, 128, 245],
  mouth: [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146],
  chin: [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172],
};

/** Point-in-polygon test (even-odd rule). */
export function insidePolygon(point: Point, polygon: Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [a, b] = [polygon[i], polygon[j]];
    if (a.y > point.y !== b.y > point.y && point.x < ((b.x - a.x) * (point.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/** The outline of each region in image pixels. */
export function regionOutlines(landmarks: Landmarks): Record<OcclusionRegion, Point[]> {
  return Object.fromEntries(
    OCCLUSION_REGIONS.map((name) => [name, REGION_POLYGONS[name].map((i) => ({ x: landmarks.mesh[i].x, y: landmarks.mesh[i].y }))]),
  ) as Record<OcclusionRegion, Point[]>;
}
