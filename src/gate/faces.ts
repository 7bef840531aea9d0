import type { FaceAnalysis, FaceAssessment } from '../pipeline/analyze';

/** The faces found with at least `threshold` detection confidence, largest first. */
export function facesAbove<Face extends FaceAssessment>(analysis: FaceAnalysis<Face>, threshold: number): Face[] {
  return analysis.faces.filter((face) => face.detection.confidence >= threshold);
}
