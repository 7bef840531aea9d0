import type { ModelRegistry } from '../models/registry';
import { type AnalysisOptions, type FaceAnalysis, type FaceAssessment, locateFaces, occlusionOf, qualityOf } from '../pipeline/analyze';
import { decodeImage } from '../pipeline/decode';
import { OCCLUSION_REGIONS, type OcclusionRegion } from '../pipeline/occlusion';
import { type StageRecord, timed } from '../pipeline/stages';
import { detectingFrom, facesAbove } from './faces';

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
 * The FIQA verdict as a cascade: each stage runs only when the one before passed, at the request's
 * thresholds, and the verdict is `fiqaVerdict`'s on the whole assessment, to the bit.
 *
 * 1. Detection: decode, the detector at the request's detection threshold (or the configured one,
 *    whichever is lower, as `detectingFrom`), FaceMesh and iris to confirm each box, the second
 *    look when nothing is confirmed. The faces counted are the confirmed ones at the request's
 *    threshold, so the mesh is part of this stage. Stops unless exactly one face is counted.
 * 2. Occlusion: fr-feature-maps and the occlusion model. Stops if a region reaches the request's
 *    occlusion threshold.
 * 3. Quality: the embedding (fr-feature and its mirror), geometry, photometry, the quality model.
 *
 * Stages 2 and 3 run on every confirmed face, as the whole assessment does (a face confirmed below
 * the request's detection threshold still shares the occlusion and quality models' batch), so that
 * each number is the one the assessment computes. The expression model never runs: FIQA reports
 * no expression, and the quality model reads only ipd, yaw and pitch of geometry, not its smile.
 */
export async function fiqaCascade(
  bytes: Uint8Array,
  models: ModelRegistry,
  options: AnalysisOptions,
  thresholds: FiqaThresholds,
  record?: StageRecord,
): Promise<FiqaVerdict> {
  const { detection } = detectingFrom(options, thresholds.detection);
  const image = await timed(record, 'decode', () => decodeImage(bytes, options.limits));

  const located = await locateFaces(image, models, detection, record);
  const counted = located.filter((c) => c.detection.confidence >= thresholds.detection);
  if (counted.length !== 1) return { outcome: 'face_count', faceCount: counted.length };
  const one = located.indexOf(counted[0]);

  const occlusionScores = await occlusionOf(image, located, models, record);
  const occlusion = occlusionStep(occlusionScores[one].regions, thresholds.occlusion);
  if (occlusion.occluded) return { outcome: 'occluded', faceCount: 1, occlusion };

  // No expression model: geometry's smile (the only use of `happy`) is not read by the quality model.
  const evidence = occlusionScores.map((o) => ({ happy: 0, glasses: o.glasses }));
  const { quality } = await qualityOf(image, located, evidence, models, options, record);
  return iqaStep(occlusion, quality[one].score, thresholds.iqa);
}
