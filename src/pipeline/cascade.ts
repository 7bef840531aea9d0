import type { ModelRegistry } from '../models/registry';
import { type AnalysisOptions, detectingFrom, eyesOf, findFaces, occlusionOf, qualityOf } from './analyze';
import { decodeImage } from './decode';
import type { OcclusionRegion } from './occlusion';
import { type StageRecord, timed } from './stages';

/** Where the cascade stops: not exactly one face at `detection`, or a region scoring at least `occlusion`. */
export interface CascadeStops {
  detection: number;
  occlusion: number;
}

/**
 * What the cascade measured before it stopped: the face count always; the one face's occlusion
 * scores when exactly one face was counted; its quality score when no region reached the stop.
 */
export interface CascadeResult {
  faceCount: number;
  occlusion?: Record<OcclusionRegion, number>;
  quality?: number;
}

/**
 * Detection, then occlusion, then quality, each stage run only when the one before did not stop.
 *
 * 1. Detection: decode, the detector down to `stops.detection` (`detectingFrom`), FaceMesh to
 *    confirm each box, the second look when nothing is confirmed. The faces counted are the
 *    confirmed ones at `stops.detection`, so the mesh is part of this stage.
 * 2. Occlusion: the iris model (its pupils align the crop), fr-feature-maps and the occlusion model.
 * 3. Quality: the embedding (fr-feature of the mirrored crop; the aligned crop's came with the
 *    occlusion stage's fr-feature-maps), geometry, photometry, the quality model.
 *
 * Stages 2 and 3 run on every confirmed face, as `assess` does (a face confirmed below the stop
 * still shares the models' batch), so each number is the one `assess` computes. The expression
 * model never runs: the quality model reads only ipd, yaw and pitch of geometry, not its smile.
 */
export async function runCascade(bytes: Uint8Array, models: ModelRegistry, options: AnalysisOptions, stops: CascadeStops, record?: StageRecord): Promise<CascadeResult> {
  const { detection } = detectingFrom(options, stops.detection);
  const image = await timed(record, 'decode', () => decodeImage(bytes, options.limits));

  const found = await findFaces(image, models, detection, record);
  const counted = found.filter((c) => c.detection.confidence >= stops.detection);
  if (counted.length !== 1) return { faceCount: counted.length };
  const one = found.indexOf(counted[0]);
  const located = await eyesOf(image, found, models, record);

  const occlusionScores = await occlusionOf(image, located, models, record);
  const occlusion = occlusionScores[one].regions;
  if (Object.values(occlusion).some((score) => score >= stops.occlusion)) return { faceCount: 1, occlusion };

  const evidence = occlusionScores.map((o) => ({ happy: 0, glasses: o.glasses, alignedEmbedding: o.alignedEmbedding }));
  const { quality } = await qualityOf(image, located, evidence, models, options, record);
  return { faceCount: 1, occlusion, quality: quality[one].score };
}
