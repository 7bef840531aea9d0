import type { AnalysisOptions, FaceAnalysis, FaceAssessment } from '../pipeline/analyze';

/** The faces found with at least `threshold` detection confidence, largest first. */
export function facesAbove<Face extends FaceAssessment>(analysis: FaceAnalysis<Face>, threshold: number): Face[] {
  return analysis.faces.filter((face) => face.detection.confidence >= threshold);
}

/** Analysis options whose detector keeps candidates down to `threshold`, so a gate counting faces at that threshold sees them all. */
export function detectingFrom(options: AnalysisOptions, threshold: number): AnalysisOptions {
  return { ...options, detection: { ...options.detection, scoreThreshold: Math.min(options.detection.scoreThreshold, threshold) } };
}
