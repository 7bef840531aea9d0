import { randomUUID } from 'node:crypto';
import type { FaceAnalysis, FaceReport } from '../pipeline/analyze';
import type { NewImage } from '../store';

/** ISO 8601 UTC to the second, as the reference APIs print times. */
export const isoSeconds = (date = new Date()): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A new stored image under a fresh key: the uploaded bytes, the face crop and the gate's summary of the face. */
export function newImage(bytes: Buffer, analysis: FaceAnalysis, face: FaceReport, createdAt: string): NewImage {
  return {
    key: randomUUID(),
    contentType: `image/${analysis.format}`,
    fileSize: bytes.length,
    width: analysis.width,
    height: analysis.height,
    createdAt,
    original: bytes,
    cropped: face.crop,
    analysis: JSON.stringify({ confidence: face.detection.confidence, box: face.geometry.faceBox, quality: face.quality.score, occlusion: face.occlusion }),
  };
}
