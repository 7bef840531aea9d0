import type { ModelRegistry } from '../models/registry';
import { alignedFace, type CropOptions, encodeJpeg } from './crop';
import { decodeImage, type DecodeLimits } from './decode';
import { type DetectOptions, detectFaces, overlapOfSmaller } from './detect';
import { type EmbeddingModel, embedFaces } from './embed';
import { expressions } from './expression';
import { type GeometryOptions, measureGeometry } from './geometry';
import { locateLandmarks } from './landmarks';
import { type LivenessScores, livenessScores } from './liveness';
import { measurePhotometry } from './photometry';
import type { Box, Detection, Expression, Geometry, Landmarks, Photometry } from './types';

export interface AnalysisOptions {
  limits: DecodeLimits;
  detection: DetectOptions & {
    /** FaceMesh score below which a detection is taken for a false one. */
    minMeshScore: number;
    /** Share of the smaller face's mesh box inside another's above which they are one face found twice. */
    duplicateOverlap: number;
  };
  geometry: GeometryOptions;
  crop: CropOptions;
  embedding: { model: EmbeddingModel; regionScale: number };
  expression: { regionScale: number };
  liveness: { regionScale: number };
}

export interface FaceReport {
  detection: Detection;
  landmarks: Landmarks;
  geometry: Geometry;
  photometry: Photometry;
  expression: Record<Expression, number>;
  /** L2-normalised, from `embeddingModel`. */
  embedding: Float32Array;
  embeddingModel: EmbeddingModel;
  liveness: LivenessScores;
  /** The aligned face crop, JPEG. */
  crop: Buffer;
}

export interface FaceAnalysis {
  width: number;
  height: number;
  format: 'jpeg' | 'png';
  bytes: number;
  /** Largest face first. */
  faces: FaceReport[];
}

function meshBox(landmarks: Landmarks): Box {
  const xs = landmarks.mesh.map((p) => p.x);
  const ys = landmarks.mesh.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

/** Keeps detections FaceMesh confirms, once each (a face seen in two views converges to one mesh). */
function confirmedFaces(detections: Detection[], landmarks: Landmarks[], options: AnalysisOptions['detection']) {
  const candidates = detections
    .map((detection, i) => ({ detection, landmarks: landmarks[i], box: meshBox(landmarks[i]) }))
    .filter((c) => c.landmarks.meshScore >= options.minMeshScore)
    .sort((p, q) => q.landmarks.meshScore * q.detection.confidence - p.landmarks.meshScore * p.detection.confidence);
  const kept: typeof candidates = [];
  for (const c of candidates) if (!kept.some((k) => overlapOfSmaller(k.box, c.box) > options.duplicateOverlap)) kept.push(c);
  return kept.sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
}

/** The whole analysis of one image: decode, detect, landmarks, then every per-face measurement. */
export async function analyze(imageBytes: Uint8Array, models: ModelRegistry, options: AnalysisOptions): Promise<FaceAnalysis> {
  const image = await decodeImage(imageBytes, options.limits);
  const detections = await detectFaces(image, models.get('blazeface'), options.detection);
  const located = await locateLandmarks(image, detections, { facemesh: models.get('facemesh'), iris: models.get('iris') });
  const confirmed = confirmedFaces(detections, located, options.detection);
  const faces = confirmed.map((c) => c.landmarks);
  const [moods, embeddings, liveness] = await Promise.all([
    expressions(image, faces, models.get('emotion'), options.expression.regionScale),
    embedFaces(image, faces, models.get(options.embedding.model), options.embedding),
    livenessScores(image, faces, { antispoof: models.get('antispoof'), liveness: models.get('liveness') }, options.liveness),
  ]);
  const reports = await Promise.all(
    confirmed.map(async (c, i) => ({
      detection: c.detection,
      landmarks: c.landmarks,
      geometry: measureGeometry(c.landmarks, image, moods[i].happy, options.geometry),
      photometry: measurePhotometry(image, c.landmarks),
      expression: moods[i],
      embedding: embeddings[i],
      embeddingModel: options.embedding.model,
      liveness: liveness[i],
      crop: await encodeJpeg(alignedFace(image, c.landmarks, options.crop), options.crop.jpegQuality),
    })),
  );
  return { width: image.width, height: image.height, format: image.format, bytes: image.bytes, faces: reports };
}
