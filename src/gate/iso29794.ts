/**
 * The ISO/IEC 29794-5 quality components of a face: each measure's native value, its 0–100 scalar
 * and a return code, named and numbered as the standard and its reference implementation (OFIQ)
 * name them. Measuring is in src/pipeline/iso29794.ts and the analysis; this file maps. Where
 * FaceGate's model differs from OFIQ's (sharpness, compression, expression, the unified score), the
 * mapping is calibrated on the shared photos so that 50 is where recognition starts to suffer
 * (docs/quality.md, ISO/IEC 29794-5).
 */
import type { FaceAnalysis, FaceAssessment } from '../pipeline/analyze';
import { measureIsoGeometry } from '../pipeline/iso29794';
import { OCCLUSION_REGIONS } from '../pipeline/occlusion';
import type { Box } from '../pipeline/types';

/** The 28 measures in the standard's order, with their identifiers. */
export const ISO_COMPONENTS = [
  ['UnifiedQualityScore', 0x41],
  ['BackgroundUniformity', 0x42],
  ['IlluminationUniformity', 0x43],
  ['LuminanceMean', 0x44],
  ['LuminanceVariance', 0x45],
  ['UnderExposurePrevention', 0x46],
  ['OverExposurePrevention', 0x47],
  ['DynamicRange', 0x48],
  ['Sharpness', 0x49],
  ['CompressionArtifacts', 0x4a],
  ['NaturalColour', 0x4b],
  ['SingleFacePresent', 0x4c],
  ['EyesOpen', 0x4d],
  ['MouthClosed', 0x4e],
  ['EyesVisible', 0x4f],
  ['MouthOcclusionPrevention', 0x50],
  ['FaceOcclusionPrevention', 0x51],
  ['InterEyeDistance', 0x52],
  ['HeadSize', 0x53],
  ['LeftwardCropOfTheFaceImage', 0x54],
  ['RightwardCropOfTheFaceImage', 0x55],
  ['MarginAboveOfTheFaceImage', 0x56],
  ['MarginBelowOfTheFaceImage', 0x57],
  ['HeadPoseYaw', 0x58],
  ['HeadPosePitch', 0x59],
  ['HeadPoseRoll', 0x5a],
  ['ExpressionNeutrality', 0x5b],
  ['NoHeadCoverings', 0x5c],
] as const;
export type IsoComponentName = (typeof ISO_COMPONENTS)[number][0];
export const ISO_COMPONENT_NAMES: readonly IsoComponentName[] = ISO_COMPONENTS.map(([name]) => name);

export type IsoCode = 'success' | 'failure_to_assess';

export interface IsoComponent {
  name: IsoComponentName;
  /** The standard's identifier, as 0x41 … 0x5C. */
  id: string;
  /** Null when the measure failed to assess. */
  native: number | null;
  /** 0–100, higher is better; −1 when the measure failed to assess. */
  scalar: number;
  code: IsoCode;
  /** Why the measure failed to assess. */
  reason?: string;
}

export interface IsoAssessment {
  /** The assessed face (the largest): its detection box and confidence; null without a face. */
  face: { box: Box; confidence: number } | null;
  components: IsoComponent[];
}

const sigmoid = (x: number, x0: number, w: number) => 1 / (1 + Math.exp((x0 - x) / w));
const clampScalar = (q: number) => Math.min(100, Math.max(0, Math.round(q)));
/** OFIQ's generic mapping Q = h · (a + s · sigmoid(x; x0, w)), rounded and clamped to 0–100. */
export function isoSigmoid(x: number, { x0, w, h = 100, a = 0, s = 1 }: { x0: number; w: number; h?: number; a?: number; s?: number }): number {
  return clampScalar(h * (a + s * sigmoid(x, x0, w)));
}
const cosineSquared = (degrees: number) => clampScalar(100 * Math.max(0, Math.cos((degrees * Math.PI) / 180)) ** 2);

/**
 * Calibrations of FaceGate's own measures (docs/quality.md, ISO/IEC 29794-5 calibration): 50 is
 * where, going down the measure, more than a tenth of the genuine comparisons of the shared set's
 * named people fall under the authentication threshold.
 */
export const ISO_CALIBRATION = {
  /** The IQA score at which recognition starts to suffer (docs/quality.md): 0.435 maps to 50, on the logit scale. */
  unifiedSuffersAt: 0.435,
  /** log10(1 + Laplacian variance) at the normalised inter-pupil distance; genuine comparisons start to fail near 0.76 (blur strength 3 of eval/transforms.ts). */
  sharpness: { x0: 0.8, w: 0.25 },
  /** JPEG block-boundary step ratio; npm run eval -- --only iso finds genuine comparisons starting to fail near 4.6 (JPEG quality 8). */
  compression: { x0: 4.6, w: 0.8 },
  /** The emotion model's probability of a neutral face. */
  expression: { x0: 0.1, w: 0.08 },
};

/** Colour ranges of a natural face in CIELAB (OFIQ). */
const NATURAL_A = [5, 25] as const;
const NATURAL_B = [5, 35] as const;
const outside = (v: number, [low, high]: readonly [number, number]) => Math.max(0, low - v, v - high);

const logit = (p: number) => Math.log(Math.max(1e-9, p) / Math.max(1e-9, 1 - p));

const HEAD_COVERINGS_UNASSESSED =
  'Telling a hat or scarf from hair needs a face/hair/head-covering segmentation; no model FaceGate ships gives one, and the mesh ends at the hairline.';

type Measured = { native: number; scalar: number } | { failure: string };

/** Every component of one face of `analysis` (a FaceGate assessment, in the pixels of the image as sent). */
function faceComponents(analysis: FaceAnalysis<FaceAssessment>, face: FaceAssessment): Record<IsoComponentName, Measured> {
  const { geometry: g, photometry: p, iso, occlusion, quality } = face;
  if (!iso) throw new Error('the ISO/IEC 29794-5 components need an analysis made with AnalysisOptions.isoPixels');
  const m = measureIsoGeometry(face.landmarks, g, analysis);
  const [, second] = analysis.faces;
  const area = (b: Box) => b.width * b.height;
  const secondShare = second ? area(second.geometry.faceBox) / area(g.faceBox) : 0;
  const sharpness = Math.log10(1 + p.sharpness);
  const colourDistance = Math.hypot(outside(iso.colourA, NATURAL_A), outside(iso.colourB, NATURAL_B));
  const eyesOccluded = Math.max(occlusion.eye_left, occlusion.eye_right);
  const faceOccluded = OCCLUSION_REGIONS.reduce((s, r) => s + occlusion[r], 0) / OCCLUSION_REGIONS.length;
  const margin = (x: number) => isoSigmoid(x, { x0: 0.9, w: 0.1 });
  const { unifiedSuffersAt, sharpness: sharp, compression, expression } = ISO_CALIBRATION;
  return {
    UnifiedQualityScore: { native: quality.score, scalar: isoSigmoid(logit(quality.score), { x0: logit(unifiedSuffersAt), w: 1 }) },
    BackgroundUniformity:
      iso.backgroundGradient === null
        ? { failure: 'Too little background shows beside the head above the chin to judge it.' }
        : { native: iso.backgroundGradient, scalar: isoSigmoid(iso.backgroundGradient, { h: 190, a: 1, s: -1, x0: 10, w: 100 }) },
    IlluminationUniformity: { native: iso.illuminationOverlap, scalar: clampScalar(100 * iso.illuminationOverlap ** 0.3) },
    LuminanceMean: {
      native: iso.luminanceMean,
      scalar: clampScalar(100 * sigmoid(iso.luminanceMean, 0.2, 0.05) * (1 - sigmoid(iso.luminanceMean, 0.8, 0.05))),
    },
    LuminanceVariance: {
      native: iso.luminanceVariance,
      scalar: clampScalar(100 * Math.sin((Math.PI * 60 * iso.luminanceVariance) / (60 * iso.luminanceVariance + 1))),
    },
    UnderExposurePrevention: { native: iso.underExposedShare, scalar: isoSigmoid(iso.underExposedShare, { h: 120, a: 0.832, s: -1, x0: 0.92, w: 0.05 }) },
    OverExposurePrevention: { native: iso.overExposedShare, scalar: clampScalar(1 / (iso.overExposedShare + 0.01)) },
    DynamicRange: { native: iso.luminanceEntropy, scalar: clampScalar(12.5 * iso.luminanceEntropy) },
    Sharpness: { native: sharpness, scalar: isoSigmoid(sharpness, sharp) },
    CompressionArtifacts: { native: p.blockiness, scalar: isoSigmoid(p.blockiness, { ...compression, a: 1, s: -1 }) },
    NaturalColour: { native: colourDistance, scalar: isoSigmoid(colourDistance, { h: 200, a: 1, s: -1, x0: 0, w: 10 }) },
    SingleFacePresent: { native: secondShare, scalar: clampScalar(100 * (1 - secondShare)) },
    EyesOpen: { native: m.eyesOpen, scalar: isoSigmoid(m.eyesOpen, { x0: 0.02, w: 0.01 }) },
    MouthClosed: { native: m.mouthOpen, scalar: isoSigmoid(m.mouthOpen, { a: 1, s: -1, x0: 0.2, w: 0.06 }) },
    EyesVisible: { native: eyesOccluded, scalar: clampScalar(100 * (1 - eyesOccluded)) },
    MouthOcclusionPrevention: { native: occlusion.mouth, scalar: clampScalar(100 * (1 - occlusion.mouth)) },
    FaceOcclusionPrevention: { native: faceOccluded, scalar: clampScalar(100 * (1 - faceOccluded)) },
    InterEyeDistance: { native: m.interEyeDistance, scalar: isoSigmoid(m.interEyeDistance, { x0: 70, w: 20 }) },
    HeadSize: { native: m.headSize, scalar: isoSigmoid(Math.abs(m.headSize - 0.45), { h: 200, a: 1, s: -1, x0: 0, w: 0.05 }) },
    LeftwardCropOfTheFaceImage: { native: m.leftwardCrop, scalar: margin(m.leftwardCrop) },
    RightwardCropOfTheFaceImage: { native: m.rightwardCrop, scalar: margin(m.rightwardCrop) },
    MarginAboveOfTheFaceImage: { native: m.marginAbove, scalar: isoSigmoid(m.marginAbove, { x0: 1.4, w: 0.1 }) },
    MarginBelowOfTheFaceImage: { native: m.marginBelow, scalar: isoSigmoid(m.marginBelow, { x0: 1.8, w: 0.1 }) },
    HeadPoseYaw: { native: g.yaw, scalar: cosineSquared(g.yaw) },
    HeadPosePitch: { native: g.pitch, scalar: cosineSquared(g.pitch) },
    HeadPoseRoll: { native: g.roll, scalar: cosineSquared(g.roll) },
    ExpressionNeutrality: { native: face.expression.neutral, scalar: isoSigmoid(face.expression.neutral, expression) },
    NoHeadCoverings: { failure: HEAD_COVERINGS_UNASSESSED },
  };
}

const NO_FACE = 'No face was found.';

/** The ISO/IEC 29794-5 components of the largest face of `analysis`; every one fails to assess without a face. */
export function isoAssessment(analysis: FaceAnalysis<FaceAssessment>): IsoAssessment {
  const [face] = analysis.faces;
  const measured = face ? faceComponents(analysis, face) : undefined;
  return {
    face: face ? { box: face.detection.box, confidence: face.detection.confidence } : null,
    components: ISO_COMPONENTS.map(([name, id]) => {
      const result = measured?.[name] ?? { failure: NO_FACE };
      const hex = `0x${id.toString(16).toUpperCase()}`;
      if ('failure' in result) return { name, id: hex, native: null, scalar: -1, code: 'failure_to_assess', reason: result.failure };
      return { name, id: hex, native: result.native, scalar: result.scalar, code: 'success' };
    }),
  };
}
