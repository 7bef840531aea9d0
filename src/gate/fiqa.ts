import type { ModelRegistry } from '../models/registry';
import type { AnalysisOptions, FaceAnalysis, FaceAssessment } from '../pipeline/analyze';
import { type CascadeResult, runCascade } from '../pipeline/cascade';
import { OCCLUSION_REGIONS, type OcclusionRegion } from '../pipeline/occlusion';
import type { StageRecord } from '../pipeline/stages';
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

/** The occlusion step's verdict on one face's region scores. */
function occlusionStep(scores: Record<OcclusionRegion, number>, threshold: number): NonNullable<FiqaVerdict['occlusion']> {
  const regions = Object.fromEntries(OCCLUSION_REGIONS.map((r) => [r, scores[r] >= threshold])) as Record<OcclusionRegion, boolean>;
  return { occluded: OCCLUSION_REGIONS.some((r) => regions[r]), regions };
}

/** The quality step's verdict on the one unoccluded face's score. */
function iqaStep(occlusion: NonNullable<FiqaVerdict['occlusion']>, score: number, threshold: number): FiqaVerdict {
  const accepted = score >= threshold;
  return { outcome: accepted ? 'accepted' : 'low_quality', faceCount: 1, occlusion, iqa: { accepted, score } };
}

/** Detection, then occlusion, then quality, stopping at the first step that fails, read off a whole assessment. */
export function fiqaVerdict(analysis: FaceAnalysis<FaceAssessment>, thresholds: FiqaThresholds): FiqaVerdict {
  const faces = facesAbove(analysis, thresholds.detection);
  if (faces.length !== 1) return { outcome: 'face_count', faceCount: faces.length };
  const [face] = faces;
  const occlusion = occlusionStep(face.occlusion, thresholds.occlusion);
  if (occlusion.occluded) return { outcome: 'occluded', faceCount: 1, occlusion };
  return iqaStep(occlusion, face.quality.score, thresholds.iqa);
}

/**
 * The FIQA verdict on what the cascade measured (`runCascade`, stopped at these thresholds): the
 * same verdict `fiqaVerdict` gives on the whole assessment, to the bit.
 */
export function cascadeVerdict(result: CascadeResult, thresholds: FiqaThresholds): FiqaVerdict {
  if (result.faceCount !== 1 || !result.occlusion) return { outcome: 'face_count', faceCount: result.faceCount };
  const occlusion = occlusionStep(result.occlusion, thresholds.occlusion);
  if (occlusion.occluded || result.quality === undefined) return { outcome: 'occluded', faceCount: 1, occlusion };
  return iqaStep(occlusion, result.quality, thresholds.iqa);
}

/** The FIQA verdict by the cascade, on this thread: `runCascade` at the thresholds, then `cascadeVerdict`. */
export async function fiqaCascade(
  bytes: Uint8Array,
  models: ModelRegistry,
  options: AnalysisOptions,
  thresholds: FiqaThresholds,
  record?: StageRecord,
): Promise<FiqaVerdict> {
  return cascadeVerdict(await runCascade(bytes, models, options, thresholds, record), thresholds);
}
