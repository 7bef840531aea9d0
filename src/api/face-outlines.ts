import { facesAbove } from '../gate/faces';
import type { FaceAnalysis } from '../pipeline/analyze';
import { OCCLUSION_REGIONS, type OcclusionRegion, regionOutlines } from '../pipeline/occlusion-regions';
import type { Point } from '../pipeline/types';

type XY = [number, number];

/** Where a face is, for drawing over the photo: what `?faces=true` adds to a QI Tech upload's answer. */
export interface FaceOutline {
  box: { x: number; y: number; width: number; height: number };
  confidence: number;
  landmarks: XY[];
  regions: Record<OcclusionRegion, { occlusion: number; occluded: boolean; outline: XY[] }>;
}

const tenth = (value: number): number => Math.round(value * 10) / 10;
const score = (value: number): number => Math.round(value * 10000) / 10000;
const xy = (point: Point): XY => [tenth(point.x), tenth(point.y)];

/**
 * The faces the photo rules counted (detection confidence at least `detection`), largest first, in
 * the image's own pixels: the box the rules measure, the 468 FaceMesh points, and each occlusion
 * region's outline and score, occluded above the rules' `occlusion` limit.
 */
export function faceOutlines(analysis: FaceAnalysis, rules: { detection: number; occlusion: number }): FaceOutline[] {
  return facesAbove(analysis, rules.detection).map((face) => {
    const box = face.geometry.faceBox;
    const outlines = regionOutlines(face.landmarks);
    const regions = Object.fromEntries(
      OCCLUSION_REGIONS.map((region) => [
        region,
        { occlusion: score(face.occlusion[region]), occluded: face.occlusion[region] > rules.occlusion, outline: outlines[region].map(xy) },
      ]),
    ) as FaceOutline['regions'];
    return {
      box: { x: tenth(box.x), y: tenth(box.y), width: tenth(box.width), height: tenth(box.height) },
      confidence: score(face.detection.confidence),
      landmarks: face.landmarks.mesh.map(xy),
      regions,
    };
  });
}
