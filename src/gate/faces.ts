import type { FaceAnalysis, FaceReport } from '../pipeline/analyze';

/** The faces found with at least `threshold` detection confidence, largest first. */
export function facesAbove(analysis: FaceAnalysis, threshold: number): FaceReport[] {
  return analysis.faces.filter((face) => face.detection.confidence >= threshold);
}
