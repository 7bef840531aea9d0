import { OCCLUSION_REGIONS, type OcclusionRegion } from '../pipeline/occlusion';
import type { FaceAnalysis, FaceAssessment } from '../pipeline/analyze';
import { facesAbove } from './faces';

/** Nodeflux's three per-analytic thresholds, each in [0, 1]. */
export interface FiqaThresholds {
  /** Least detection confidence for a face to count. */
  detection: number;
  /** Region occlusion score from which a region is occluded. */
  occlusion: number;
  /** Least quality score accepted. */
  iqa: number;
}

export type FiqaOutcome = 'accepted' | 'face_count' | 'occluded' | 'low_quality';

export interface FiqaVerdict {
  outcome: FiqaOutcome;
  faceCount: number;
  /** Present once exactly one face was found. */
  occlusion?: { occluded: boolean; regions: Record<OcclusionRegion, boolean> };
  /** Present once the one face was found unoccluded. */
  iqa?: { accepted: boolean; score: number };
}

/** Detection, then occlusion, then quality, stopping at the first step that fails. */
export function fiqaVerdict(analysis: FaceAnalysis<FaceAssessment>, thresholds: FiqaThresholds): FiqaVerdict {
  const faces = facesAbove(analysis, thresholds.detection);
  if (faces.length !== 1) return { outcome: 'face_count', faceCount: faces.length };
  const [face] = faces;
  const regions = Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, face.occlusion[r] >= thresholds.occlusion])) as Record<OcclusionRegion, boolean>;
  const occluded = OCCLUSION_REGIONS.some((r) => regions[r]);
  if (occluded) return { outcome: 'occluded', faceCount: 1, occlusion: { occluded, regions } };
  const score = face.quality.score;
  const accepted = score >= thresholds.iqa;
  return { outcome: accepted ? 'accepted' : 'low_quality', faceCount: 1, occlusion: { occluded, regions }, iqa: { accepted, score } };
}
