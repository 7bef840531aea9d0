import type { FaceAnalysis, FaceReport } from '../pipeline/analyze';
import { OCCLUSION_REGIONS } from '../pipeline/occlusion';
import { similarity } from '../pipeline/embed';
import { faceMotion } from '../pipeline/face-motion';
import type { Point3 } from '../pipeline/types';
import { facesAbove } from './faces';

export type FaceProblem = 'NO_FACE_DETECTED' | 'MULTIPLE_FACES_DETECTED';
export type EnrollProblem = FaceProblem | 'FACE_OCCLUDED' | 'LOW_IMAGE_QUALITY' | 'LIVENESS_FAILED';

export interface FaceChoice {
  /** Least detection confidence for a face to count. */
  detection: number;
  /** The largest face is used alone when its area is at least this many times the next one's. */
  dominantFace: number;
}

export interface LivenessLimits {
  minAntispoof: number;
  minLiveness: number;
}

export interface EnrollRules extends FaceChoice {
  occlusion: number;
  iqa: number;
  minIpd: number;
  /** Present when still images must pass the liveness check. */
  liveness?: LivenessLimits;
}

type Outcome<T, P> = { ok: true; value: T } | { ok: false; problem: P };

const area = (face: FaceReport) => face.geometry.faceBox.width * face.geometry.faceBox.height;

/** The one face to use: the only one, or one so much larger than the rest (an ID card's ghost portrait) that it is plainly the subject. */
export function chooseFace(analysis: FaceAnalysis, choice: FaceChoice): Outcome<FaceReport, FaceProblem> {
  const faces = facesAbove(analysis, choice.detection);
  if (faces.length === 0) return { ok: false, problem: 'NO_FACE_DETECTED' };
  if (faces.length > 1 && area(faces[0]) < choice.dominantFace * area(faces[1])) return { ok: false, problem: 'MULTIPLE_FACES_DETECTED' };
  return { ok: true, value: faces[0] };
}

export function livenessPasses(scores: { antispoof: number; liveness: number }, limits: LivenessLimits): boolean {
  return scores.antispoof >= limits.minAntispoof && scores.liveness >= limits.minLiveness;
}

/**
 * Whether a video shows a live face: the liveness models' scores, and the face itself moving
 * (blinks, mouth, small turns) more than any flat picture moved as a whole could (docs/video-liveness.md).
 */
export function videoLivenessPasses(probe: Probe, limits: LivenessLimits & { minFaceMotion: number }): boolean {
  return livenessPasses(probe.liveness, limits) && faceMotion(probe.meshes).nonRigid >= limits.minFaceMotion;
}

/** The face to enroll from a photo, or why the photo cannot be enrolled. */
export function enrollableFace(analysis: FaceAnalysis, rules: EnrollRules): Outcome<FaceReport, EnrollProblem> {
  const chosen = chooseFace(analysis, rules);
  if (!chosen.ok) return chosen;
  const face = chosen.value;
  if (face.geometry.ipd < rules.minIpd) return { ok: false, problem: 'LOW_IMAGE_QUALITY' };
  if (OCCLUSION_REGIONS.some((r) => face.occlusion[r] >= rules.occlusion)) return { ok: false, problem: 'FACE_OCCLUDED' };
  // Size is judged by minIpd; the score itself falls for resolution only where recognition suffers (docs/quality.md).
  const quality = face.quality.score;
  if (quality < rules.iqa) return { ok: false, problem: 'LOW_IMAGE_QUALITY' };
  if (rules.liveness && !livenessPasses(face.liveness, rules.liveness)) return { ok: false, problem: 'LIVENESS_FAILED' };
  return { ok: true, value: face };
}

export interface Probe {
  /** L2-normalised mean of the best frames' embeddings. */
  embedding: Float32Array;
  /** Mean liveness scores over every frame with the face. */
  liveness: { antispoof: number; liveness: number };
  /** The face's mesh in every frame that has it, in frame order. */
  meshes: Point3[][];
  frames: number;
}

/**
 * What an authentication presents, from one photo or the frames of a video: the face of each
 * frame, the `best` frames by quality fused into one embedding. A frame with several comparable
 * faces makes the whole probe MULTIPLE_FACES_DETECTED: someone else is in the picture.
 */
export function probeOf(frames: FaceAnalysis[], choice: FaceChoice, best: number): Outcome<Probe, FaceProblem> {
  const faces: FaceReport[] = [];
  for (const frame of frames) {
    const chosen = chooseFace(frame, choice);
    if (chosen.ok) faces.push(chosen.value);
    else if (chosen.problem === 'MULTIPLE_FACES_DETECTED') return chosen;
  }
  if (faces.length === 0) return { ok: false, problem: 'NO_FACE_DETECTED' };
  const chosen = [...faces].sort((a, b) => b.quality.score - a.quality.score).slice(0, best);
  const embedding = new Float32Array(chosen[0].embedding.length);
  for (const face of chosen) face.embedding.forEach((v, i) => (embedding[i] += v));
  const norm = Math.hypot(...embedding) || 1;
  embedding.forEach((v, i) => (embedding[i] = v / norm));
  const mean = (pick: (f: FaceReport) => number) => faces.reduce((sum, f) => sum + pick(f), 0) / faces.length;
  return {
    ok: true,
    value: {
      embedding,
      liveness: { antispoof: mean((f) => f.liveness.antispoof), liveness: mean((f) => f.liveness.liveness) },
      meshes: faces.map((f) => f.landmarks.mesh),
      frames: faces.length,
    },
  };
}

/** The best similarity of `embedding` to any of `templates`, in [0, 1]. */
export function matchScore(embedding: Float32Array, templates: Float32Array[]): number {
  return templates.reduce((best, t) => Math.max(best, similarity(embedding, t)), 0);
}

/**
 * The enrolled user whose template is most similar to `embedding`, when at least `threshold`: the
 * definition enrollment's duplicate-search index (src/service/duplicate-search.ts) answers by, and is tested against.
 */
export function sameFaceAs(embedding: Float32Array, enrolled: { username: string; embedding: Float32Array }[], threshold: number): string | undefined {
  let found: { username: string; score: number } | undefined;
  for (const e of enrolled) {
    const score = similarity(embedding, e.embedding);
    if (score >= threshold && (!found || score > found.score)) found = { username: e.username, score };
  }
  return found?.username;
}
