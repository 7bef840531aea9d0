import sharp from 'sharp';
import { ISO_COMPONENT_NAMES, isoAssessment } from '../gate/iso29794';
import type { AnalysisOptions, Analyzer, FaceAnalysis } from '../pipeline/analyze';
import { OCCLUSION_REGIONS } from '../pipeline/occlusion';

const capitalised = (label: string) => label.charAt(0).toUpperCase() + label.slice(1);
const whole = (value: number) => Math.round(value);

/** The BQAT profile fields with a face value, in BQAT's order; null when the image has no face. */
export const BQAT_FACE_FIELDS = [
  'confidence', 'bbox_left', 'bbox_upper', 'bbox_right', 'bbox_lower', 'smile', 'eye_closed_left', 'eye_closed_right', 'ipd',
  'pupil_right_x', 'pupil_right_y', 'pupil_left_x', 'pupil_left_y', 'yaw_pose', 'yaw_degree', 'pitch_pose', 'pitch_degree',
  'roll_pose', 'roll_degree', 'glasses',
] as const;

/** FaceGate's own measurements added to each profile. */
export const EXTRA_FIELDS = [
  'face_count', 'iqa_score', 'face_ratio', 'sharpness', 'brightness', 'under_exposed', 'over_exposed', 'dynamic_range',
  'illumination_uniformity', 'noise', 'antispoof', 'liveness', ...OCCLUSION_REGIONS.map((r) => `occlusion_${r}`),
] as const;

/**
 * The ISO/IEC 29794-5 components (src/gate/iso29794.ts) as OFIQ's CSV names them: the native value
 * under the measure's name, the 0–100 scalar under `<name>.scalar` (−1 when it failed to assess).
 */
export const ISO_FIELDS: readonly string[] = ISO_COMPONENT_NAMES.flatMap((name) => [name, `${name}.scalar`]);

/** Every profile column, in order: BQAT's, then FaceGate's, then the ISO/IEC 29794-5 components. */
export const PROFILE_COLUMNS: readonly string[] = ['file', 'image_height', 'image_width', ...BQAT_FACE_FIELDS, ...EXTRA_FIELDS, ...ISO_FIELDS];

/** The ISO/IEC 29794-5 fields of the largest face; without a face every native value is null and every scalar −1. */
function isoFields(analysis: FaceAnalysis): Profile {
  return Object.fromEntries(isoAssessment(analysis).components.flatMap((c) => [[c.name, c.native], [`${c.name}.scalar`, c.scalar]]));
}

export type ProfileValue = number | string | boolean | null;
export type Profile = Record<string, ProfileValue>;

/**
 * One image's profile in BQAT's shape, from the largest face: the detector's box, pupils relative
 * to the box's top-left corner (as BQAT reports them), pose in degrees and as capitalised labels.
 * An image without a face keeps its file and size, with every face field null (and every ISO
 * scalar −1, the standard's failure to assess).
 */
export function bqatProfile(file: string, analysis: FaceAnalysis): Profile {
  const base: Profile = { file, image_height: analysis.height, image_width: analysis.width };
  const [face] = analysis.faces;
  if (!face) {
    return { ...base, ...Object.fromEntries([...BQAT_FACE_FIELDS, ...EXTRA_FIELDS].map((f) => [f, null])), face_count: 0, ...isoFields(analysis) };
  }
  const { box } = face.detection;
  const g = face.geometry;
  const p = face.photometry;
  return {
    ...base,
    confidence: face.detection.confidence,
    bbox_left: whole(box.x),
    bbox_upper: whole(box.y),
    bbox_right: whole(box.x + box.width),
    bbox_lower: whole(box.y + box.height),
    smile: g.smile,
    eye_closed_left: g.eyeClosedLeft,
    eye_closed_right: g.eyeClosedRight,
    ipd: whole(g.ipd),
    pupil_right_x: whole(g.pupilRight.x - box.x),
    pupil_right_y: whole(g.pupilRight.y - box.y),
    pupil_left_x: whole(g.pupilLeft.x - box.x),
    pupil_left_y: whole(g.pupilLeft.y - box.y),
    yaw_pose: capitalised(g.yawLabel),
    yaw_degree: g.yaw,
    pitch_pose: capitalised(g.pitchLabel),
    pitch_degree: g.pitch,
    roll_pose: capitalised(g.rollLabel),
    roll_degree: g.roll,
    glasses: g.glasses,
    face_count: analysis.faces.length,
    iqa_score: face.quality.score,
    face_ratio: g.faceAreaRatio,
    sharpness: p.sharpness,
    brightness: p.brightness,
    under_exposed: p.underExposed,
    over_exposed: p.overExposed,
    dynamic_range: p.dynamicRange,
    illumination_uniformity: p.illuminationUniformity,
    noise: p.noise,
    antispoof: face.liveness.antispoof,
    liveness: face.liveness.liveness,
    ...Object.fromEntries(OCCLUSION_REGIONS.map((r) => [`occlusion_${r}`, face.occlusion[r]])),
    ...isoFields(analysis),
  };
}

export interface ProfiledImage {
  profile: Profile;
  /** The whole image, upright, fitted in a `thumbnailSize` square, JPEG. */
  thumbnail: Buffer;
}

/** Analyses one image of a batch into its profile and thumbnail; an unreadable image throws. */
export async function profileImage(
  file: string,
  bytes: Uint8Array,
  analyzer: Analyzer,
  options: AnalysisOptions,
  thumbnailSize: number,
): Promise<ProfiledImage> {
  const analysis = await analyzer.analyze(bytes, { ...options, isoPixels: true });
  const thumbnail = await sharp(bytes)
    .rotate()
    .resize(thumbnailSize, thumbnailSize, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 75 })
    .toBuffer();
  return { profile: bqatProfile(file, analysis), thumbnail };
}
