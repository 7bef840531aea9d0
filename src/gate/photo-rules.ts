import type { CountedAnalysis, FaceAnalysis, FaceReport } from '../pipeline/analyze';
import { OCCLUSION_REGIONS } from '../pipeline/occlusion';
import { facesAbove } from './faces';

/** QI Tech's image_status values, in the order the checks run (their spelling). */
export const IMAGE_STATUSES = [
  'no_faces',
  'multiple_faces',
  'close_face',
  'distant_face',
  'not_centered',
  'inclined_face',
  'wearing_acessories',
  'facial_expression',
  'brightness_problem',
  'sharpness_problem',
] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const STATUS_DESCRIPTIONS: Record<ImageStatus, string> = {
  no_faces: 'No face was found in the image.',
  multiple_faces: 'More than one face was found in the image.',
  close_face: 'The face is too close to the camera.',
  distant_face: 'The face is too far from the camera.',
  not_centered: 'The face is not centred or is too close to the image edges.',
  inclined_face: 'The face is turned or tilted; look straight at the camera.',
  wearing_acessories: 'Something covers part of the face (glasses, a hat, a mask or a hand).',
  facial_expression: 'The eyes are closed, the mouth is open or the person smiles; keep a neutral expression.',
  brightness_problem: 'The lighting is not adequate: the face is too dark, too bright or unevenly lit.',
  sharpness_problem: 'The image is not sharp enough.',
};

/** Limits of the photo rules, from config `gate.photo`. Angles in degrees, shares in [0, 1]. */
export interface PhotoRules {
  detection: number;
  minFaceArea: number;
  maxFaceArea: number;
  maxOffsetX: number;
  maxOffsetY: number;
  /** Least distance from the face box to any image edge, as a share of the face box's size. */
  minEdgeMargin: number;
  maxYaw: number;
  maxPitch: number;
  maxRoll: number;
  occlusion: number;
  glasses: number;
  minEyeOpenness: number;
  maxMouthOpenness: number;
  maxSmile: number;
  minBrightness: number;
  maxBrightness: number;
  maxUnderExposed: number;
  maxOverExposed: number;
  minIlluminationUniformity: number;
  minSharpness: number;
}

/** One measured check that failed: what was measured, its value and the limit it broke. */
export interface RuleFailure {
  image_status: ImageStatus;
  check: string;
  value: number;
  min?: number;
  max?: number;
}

export interface PhotoVerdict {
  accepted: boolean;
  /** The first failure in check order; absent when accepted. */
  status?: ImageStatus;
  failures: RuleFailure[];
  /** The face the rules judged, when there was exactly one. */
  face?: FaceReport;
}

const round = (value: number): number => Math.round(value * 10000) / 10000;

function at(status: ImageStatus, check: string, value: number, limit: { min?: number; max?: number }): RuleFailure | undefined {
  const tooLow = limit.min !== undefined && value < limit.min;
  const tooHigh = limit.max !== undefined && value > limit.max;
  return tooLow || tooHigh ? { image_status: status, check, value: round(value), ...limit } : undefined;
}

function faceFailures(face: FaceReport, rules: PhotoRules): RuleFailure[] {
  const g = face.geometry;
  const p = face.photometry;
  const size = Math.max(g.faceBox.width, g.faceBox.height);
  const edge = Math.min(g.margins.left, g.margins.top, g.margins.right, g.margins.bottom) / size;
  const [worstRegion] = [...OCCLUSION_REGIONS].sort((a, b) => face.occlusion[b] - face.occlusion[a]);
  const checks = [
    at('close_face', 'face_area', g.faceAreaRatio, { max: rules.maxFaceArea }),
    at('distant_face', 'face_area', g.faceAreaRatio, { min: rules.minFaceArea }),
    at('not_centered', 'edge_margin', edge, { min: rules.minEdgeMargin }),
    at('not_centered', 'center_offset_x', Math.abs(g.centerOffset.x), { max: rules.maxOffsetX }),
    at('not_centered', 'center_offset_y', Math.abs(g.centerOffset.y), { max: rules.maxOffsetY }),
    at('inclined_face', 'yaw', Math.abs(g.yaw), { max: rules.maxYaw }),
    at('inclined_face', 'pitch', Math.abs(g.pitch), { max: rules.maxPitch }),
    at('inclined_face', 'roll', Math.abs(g.roll), { max: rules.maxRoll }),
    at('wearing_acessories', 'glasses', g.glassesScore, { max: rules.glasses }),
    at('wearing_acessories', `occlusion_${worstRegion}`, face.occlusion[worstRegion], { max: rules.occlusion }),
    at('facial_expression', 'eye_openness_right', g.eyeOpennessRight, { min: rules.minEyeOpenness }),
    at('facial_expression', 'eye_openness_left', g.eyeOpennessLeft, { min: rules.minEyeOpenness }),
    at('facial_expression', 'mouth_openness', g.mouthOpenness, { max: rules.maxMouthOpenness }),
    at('facial_expression', 'smile', g.smileScore, { max: rules.maxSmile }),
    at('brightness_problem', 'brightness', p.brightness, { min: rules.minBrightness, max: rules.maxBrightness }),
    at('brightness_problem', 'under_exposed', p.underExposed, { max: rules.maxUnderExposed }),
    at('brightness_problem', 'over_exposed', p.overExposed, { max: rules.maxOverExposed }),
    at('brightness_problem', 'illumination_uniformity', p.illuminationUniformity, { min: rules.minIlluminationUniformity }),
    at('sharpness_problem', 'sharpness', p.sharpness, { min: rules.minSharpness }),
  ];
  return checks.filter((c): c is RuleFailure => c !== undefined);
}

/** The refusal of an image without exactly one face: its only failure is the count. */
function faceCountVerdict(faceCount: number): PhotoVerdict {
  const failure =
    faceCount === 0
      ? { image_status: 'no_faces' as const, check: 'face_count', value: 0, min: 1 }
      : { image_status: 'multiple_faces' as const, check: 'face_count', value: faceCount, max: 1 };
  return { accepted: false, status: failure.image_status, failures: [failure] };
}

/**
 * QI Tech's photo rules: exactly one face, then size, position, pose, accessories, expression,
 * light and sharpness. Every check runs; the verdict's status is the first failure in that order.
 */
export function photoVerdict(analysis: FaceAnalysis, rules: PhotoRules): PhotoVerdict {
  const faces = facesAbove(analysis, rules.detection);
  if (faces.length !== 1) return faceCountVerdict(faces.length);
  const [face] = faces;
  const failures = faceFailures(face, rules);
  return { accepted: failures.length === 0, status: failures[0]?.image_status, failures, face };
}

/**
 * The photo rules on an analysis counted at `rules.detection` (`analyzeCounted`): the face count
 * first, the cheapest rule, which needs no measurement of the face; the others on the whole
 * analysis, all of them, since the answer lists every failure.
 */
export function countedPhotoVerdict(counted: CountedAnalysis, rules: PhotoRules): PhotoVerdict {
  return counted.analysis ? photoVerdict(counted.analysis, rules) : faceCountVerdict(counted.faceCount);
}
