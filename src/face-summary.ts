import { type FiqaThresholds, type FiqaVerdict, fiqaVerdict } from './gate/fiqa';
import { type PhotoRules, type PhotoVerdict, photoVerdict, type RuleFailure } from './gate/photo-rules';
import type { FaceAnalysis, FaceReport } from './pipeline/analyze';
import { OCCLUSION_REGIONS } from './pipeline/occlusion';

/** Rounded for reading: at most `digits` decimals, no trailing zeros. */
const num = (value: number, digits = 2): string => String(Math.round(value * 10 ** digits) / 10 ** digits);

function fiqaPart(verdict: FiqaVerdict): string {
  if (verdict.outcome === 'accepted') return `FIQA accepted (iqa ${num(verdict.iqa?.score ?? 0, 4)})`;
  if (verdict.outcome === 'face_count') return `FIQA rejected: face_count (${verdict.faceCount} faces)`;
  if (verdict.outcome === 'occluded') {
    const regions = OCCLUSION_REGIONS.filter((region) => verdict.occlusion?.regions[region]);
    return `FIQA rejected: occluded (${regions.join(', ')})`;
  }
  return `FIQA rejected: low_quality (iqa ${num(verdict.iqa?.score ?? 0, 4)})`;
}

function failurePart({ check, value, min, max }: RuleFailure): string {
  const limits = [min === undefined ? '' : `min ${min}`, max === undefined ? '' : `max ${max}`].filter(Boolean).join(', ');
  return `${check} ${value} (${limits})`;
}

function qitechPart(verdict: PhotoVerdict): string {
  if (verdict.accepted) return 'QI Tech accepted';
  return `QI Tech rejected: ${verdict.status} [${verdict.failures.map(failurePart).join('; ')}]`;
}

function measuresPart(face: FaceReport): string {
  const { box, confidence } = face.detection;
  const g = face.geometry;
  const p = face.photometry;
  const [region, score] = OCCLUSION_REGIONS.map((r) => [r, face.occlusion[r]] as const).reduce((most, next) => (next[1] > most[1] ? next : most));
  return [
    `confidence ${num(confidence)}`,
    `box ${Math.round(box.x)},${Math.round(box.y)} ${Math.round(box.width)}x${Math.round(box.height)}`,
    `ipd ${num(g.ipd, 1)} px`,
    `yaw ${num(g.yaw, 1)} pitch ${num(g.pitch, 1)} roll ${num(g.roll, 1)}`,
    `quality ${num(face.quality.score)}`,
    `sharpness ${num(p.sharpness, 1)}`,
    `brightness ${num(p.brightness)}`,
    `most occluded ${region} ${num(score)}`,
    `liveness ${num(face.liveness.liveness)}`,
  ].join(', ');
}

/**
 * One readable line per face of an analysed image (one line when it has none): the image's FIQA
 * and QI Tech verdicts with their reasons, then the face's key measures.
 */
export function faceSummaries(file: string, analysis: FaceAnalysis, rules: { fiqa: FiqaThresholds; photo: PhotoRules }): string[] {
  const verdicts = `${fiqaPart(fiqaVerdict(analysis, rules.fiqa))}; ${qitechPart(photoVerdict(analysis, rules.photo))}`;
  const count = analysis.faces.length;
  if (count === 0) return [`${file}: no face; ${verdicts}`];
  return analysis.faces.map((face, i) => `${file} face ${i + 1}/${count}: ${verdicts}; ${measuresPart(face)}`);
}
