/** Data passed between the analysis stages. Coordinates are pixels of the upright (EXIF-rotated) image. */

export interface Point {
  x: number;
  y: number;
}

export interface Point3 extends Point {
  /** Depth relative to the face, in the same pixel scale as x and y; larger is farther from the camera. */
  z: number;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** An 8-bit RGB image, pixels interleaved row by row. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DecodedImage extends RgbImage {
  format: 'jpeg' | 'png';
  /** Size of the encoded file. */
  bytes: number;
  /** The upright image's size as encoded; `width` and `height` are those decoded, shrunk when it was large. */
  original: { width: number; height: number };
  /** Decoded pixels per original pixel along each side: 1, or below 1 for a shrunk image. */
  scale: number;
}

/** The six BlazeFace keypoints. "Right" and "left" are the subject's. */
export interface FaceKeypoints {
  rightEye: Point;
  leftEye: Point;
  noseTip: Point;
  mouth: Point;
  rightEar: Point;
  leftEar: Point;
}

export interface Detection {
  box: Box;
  confidence: number;
  keypoints: FaceKeypoints;
}

export interface EyeLandmarks {
  /** Pupil (iris centre). */
  pupil: Point;
  /** Iris radius in pixels. */
  irisRadius: number;
  /** The iris model's 71 eye-contour points (eyelids and brow arc). */
  contour: Point[];
}

/** What FaceMesh gives of a face. */
export interface Mesh {
  /** The 468 FaceMesh points. */
  mesh: Point3[];
  /** FaceMesh's own score that its crop holds a face. */
  meshScore: number;
}

/** The mesh and both eyes' iris-model points. */
export interface Landmarks extends Mesh {
  rightEye: EyeLandmarks;
  leftEye: EyeLandmarks;
}

export type YawLabel = 'forward' | 'left' | 'right';
export type PitchLabel = 'level' | 'up' | 'down';
export type RollLabel = 'level' | 'clockwise' | 'anti-clockwise';

export interface Geometry {
  ipd: number;
  pupilRight: Point;
  pupilLeft: Point;
  /** Degrees; positive yaw turns the face toward the image's right, positive pitch raises the chin, positive roll is clockwise in the image. */
  yaw: number;
  pitch: number;
  roll: number;
  yawLabel: YawLabel;
  pitchLabel: PitchLabel;
  rollLabel: RollLabel;
  /** Eyelid opening over eye width, per eye. */
  eyeOpennessRight: number;
  eyeOpennessLeft: number;
  eyeClosedRight: boolean;
  eyeClosedLeft: boolean;
  /** Inner-lip opening over mouth width. */
  mouthOpenness: number;
  smile: boolean;
  smileScore: number;
  glasses: boolean;
  glassesScore: number;
  /** Face (mesh bounding box) area over image area. */
  faceAreaRatio: number;
  /** Face centre minus image centre, as fractions of the image width and height. */
  centerOffset: Point;
  /** Pixels from the face box to each image edge; negative where the face is cut off. */
  margins: { left: number; top: number; right: number; bottom: number };
  fullyInside: boolean;
  /** Mesh bounding box. */
  faceBox: Box;
}

export interface Photometry {
  /** Mean luminance of the face region, 0..1. */
  brightness: number;
  underExposed: number;
  overExposed: number;
  /** 99th minus 1st luminance percentile, 0..1. */
  dynamicRange: number;
  /** Variance of the Laplacian of the face at a fixed inter-eye distance. */
  sharpness: number;
  /** Darker over brighter mean luminance of the face's two halves, 0..1 (1 = even). */
  illuminationUniformity: number;
  /** Estimated standard deviation of pixel noise (0..255 scale) at the image's own resolution. */
  noise: number;
  /** Mean luminance step across 8-pixel block boundaries over the mean step elsewhere (~1 for natural images; JPEG blocking raises it). */
  blockiness: number;
}

export const EXPRESSIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export type Expression = (typeof EXPRESSIONS)[number];
