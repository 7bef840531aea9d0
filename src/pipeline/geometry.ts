import { eyeOpenness, MESH, meshBox } from './landmarks';
import type { Geometry, Landmarks, PitchLabel, Point, Point3, RollLabel, YawLabel } from './types';

export interface GeometryOptions {
  /** |angle| in degrees up to which yaw reads "forward", pitch "level" and roll "level". */
  yawForwardMax: number;
  pitchLevelMax: number;
  rollLevelMax: number;
  /** Added to the measured pitch so that a level head reads 0 (FaceMesh's neutral pose looks slightly down). */
  pitchOffset: number;
  /** Eyelid opening over eye width below which an eye counts as closed. */
  eyeClosedBelow: number;
  /** Expression-model "happy" probability from which the face counts as smiling. */
  smileFrom: number;
  /** Occlusion-model glasses probability from which the face counts as wearing glasses. */
  glassesFrom: number;
}

/** What the models said that geometry reports: the expression model's "happy", the occlusion model's "glasses". */
export interface FaceEvidence {
  happy: number;
  glasses: number;
}

/** Mirror-image landmark pairs (subject's right, subject's left) that span the face horizontally. */
const SYMMETRIC_PAIRS: [number, number][] = [
  [33, 263],
  [133, 362],
  [234, 454],
  [61, 291],
  [70, 300],
  [105, 334],
  [159, 386],
  [145, 374],
  [132, 361],
  [58, 288],
];
/** Midline points from forehead to chin. */
const UPPER_MIDLINE = [10, 151, 9, 8];
const LOWER_MIDLINE = [17, 200, 199, 152];

type Vec = [number, number, number];

const sub = (a: Vec, b: Vec): Vec => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: Vec, b: Vec) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const scale = (a: Vec, k: number): Vec => [a[0] * k, a[1] * k, a[2] * k];
const normalize = (a: Vec): Vec => scale(a, 1 / Math.hypot(...a));
const cross = (a: Vec, b: Vec): Vec => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const vec = (p: Point3): Vec => [p.x, p.y, p.z];
const DEG = 180 / Math.PI;

function mean(points: Vec[]): Vec {
  return scale(points.reduce((s, p) => [s[0] + p[0], s[1] + p[1], s[2] + p[2]], [0, 0, 0] as Vec), 1 / points.length);
}

/**
 * Head pose from the 3-D mesh. The face's x axis runs from the subject's right to left through
 * symmetric landmark pairs, its y axis from the upper to the lower midline, made orthogonal to x;
 * z = x × y points into the image. Built only from symmetric sets, so mirroring the image
 * negates yaw and roll.
 */
export function headPose(mesh: Point3[]): { yaw: number; pitch: number; roll: number } {
  const x = normalize(mean(SYMMETRIC_PAIRS.map(([r, l]) => sub(vec(mesh[l]), vec(mesh[r])))));
  const down = sub(mean(LOWER_MIDLINE.map((i) => vec(mesh[i]))), mean(UPPER_MIDLINE.map((i) => vec(mesh[i]))));
  const y = normalize(sub(down, scale(x, dot(down, x))));
  const z = cross(x, y);
  return {
    yaw: Math.atan2(-z[0], z[2]) * DEG,
    pitch: Math.atan2(z[1], z[2]) * DEG,
    roll: Math.atan2(x[1], x[0]) * DEG,
  };
}

function label<T extends string>(value: number, limit: number, positive: T, negative: T, neutral: T): T {
  if (value > limit) return positive;
  if (value < -limit) return negative;
  return neutral;
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Everything the gate needs about where the face is and how it is held. */
export function measureGeometry(
  landmarks: Landmarks,
  image: { width: number; height: number },
  evidence: FaceEvidence,
  options: GeometryOptions,
): Geometry {
  const { mesh, rightEye, leftEye } = landmarks;
  const pose = headPose(mesh);
  const pitch = pose.pitch + options.pitchOffset;
  const faceBox = meshBox(mesh);
  const margins = {
    left: faceBox.x,
    top: faceBox.y,
    right: image.width - (faceBox.x + faceBox.width),
    bottom: image.height - (faceBox.y + faceBox.height),
  };
  const openRight = eyeOpenness(rightEye);
  const openLeft = eyeOpenness(leftEye);
  const mouthWidth = distance(mesh[MESH.mouthRight], mesh[MESH.mouthLeft]);
  return {
    ipd: distance(rightEye.pupil, leftEye.pupil),
    pupilRight: rightEye.pupil,
    pupilLeft: leftEye.pupil,
    yaw: pose.yaw,
    pitch,
    roll: pose.roll,
    yawLabel: label<YawLabel>(pose.yaw, options.yawForwardMax, 'left', 'right', 'forward'),
    pitchLabel: label<PitchLabel>(pitch, options.pitchLevelMax, 'up', 'down', 'level'),
    rollLabel: label<RollLabel>(pose.roll, options.rollLevelMax, 'clockwise', 'anti-clockwise', 'level'),
    eyeOpennessRight: openRight,
    eyeOpennessLeft: openLeft,
    eyeClosedRight: openRight < options.eyeClosedBelow,
    eyeClosedLeft: openLeft < options.eyeClosedBelow,
    mouthOpenness: mouthWidth > 0 ? distance(mesh[MESH.upperLipInner], mesh[MESH.lowerLipInner]) / mouthWidth : 0,
    smile: evidence.happy >= options.smileFrom,
    smileScore: evidence.happy,
    glasses: evidence.glasses >= options.glassesFrom,
    glassesScore: evidence.glasses,
    faceAreaRatio: (faceBox.width * faceBox.height) / (image.width * image.height),
    centerOffset: {
      x: (faceBox.x + faceBox.width / 2 - image.width / 2) / image.width,
      y: (faceBox.y + faceBox.height / 2 - image.height / 2) / image.height,
    },
    margins,
    fullyInside: Math.min(margins.left, margins.top, margins.right, margins.bottom) >= 0,
    faceBox,
  };
}
