import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analysisOptions, type Config, PROJECT_ROOT } from '../src/config';
import type { AnalysisOptions } from '../src/pipeline/analyze';

/** The shared photo set of real faces (never committed); FACEGATE_FACES_DIR points elsewhere. */
export const FACES_DIR = resolve(process.env.FACEGATE_FACES_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'data', 'faces'));

export interface FaceRecord {
  file: string;
  identity: string | null;
  faces: number | string;
  face_count: number;
  occlusion: string[] | null;
  synthetic: boolean;
  tags: string[];
  width: number;
  height: number;
}

export const facesAvailable = existsSync(join(FACES_DIR, 'manifest.json'));

export function faceManifest(): FaceRecord[] {
  return JSON.parse(readFileSync(join(FACES_DIR, 'manifest.json'), 'utf8')) as FaceRecord[];
}

export function facePath(file: string): string {
  return join(FACES_DIR, file);
}

/** Same-photo copies (mirrored, re-encoded, converted) that would count twice in identity pairs. */
export function isCopy(record: FaceRecord): boolean {
  return record.tags.some((t) => t === 'derived' || t === 'mirrored' || t === 'reencoded');
}

const NOT_PORTRAIT = new Set(['small_face', 'low_res', 'cgi', 'cartoon', 'screen_recapture', 'derived', 'mirrored', 'reencoded']);

/** Real one-face frontal photos with nothing over the face, at portrait size: the photos a gate should let through. */
export function isCleanFrontal(record: FaceRecord): boolean {
  return record.faces === 1 && !record.occlusion && !record.synthetic && record.tags.includes('frontal') && !record.tags.some((t) => NOT_PORTRAIT.has(t));
}

/** The configured analysis options without the request byte limit: the photo set is analysed whatever its file sizes. */
export function photoSetOptions(config: Config): AnalysisOptions {
  const configured = analysisOptions(config);
  return { ...configured, limits: { ...configured.limits, maxBytes: Infinity } };
}

/** The second photo set (never committed): unnamed bare and masked faces, and 8 people x 5 crops. */
export const EXTRA_DIR = resolve(process.env.FACEGATE_FACES_EXTRA_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'data', 'faces-extra'));

export interface ExtraRecord {
  /** Path under EXTRA_DIR, e.g. masks/bare/12.jpg. */
  file: string;
  set: 'masks' | 'masks-real' | 'identities';
  identity: string | null;
  occlusion: string[] | null;
  faces: number;
}

export const extraAvailable = existsSync(join(EXTRA_DIR, 'manifest.json'));

export function extraManifest(): ExtraRecord[] {
  return JSON.parse(readFileSync(join(EXTRA_DIR, 'manifest.json'), 'utf8')) as ExtraRecord[];
}

export function extraPath(file: string): string {
  return join(EXTRA_DIR, file);
}

export interface ExtraPopulation {
  set: ExtraRecord['set'];
  /** Whether the faces wear masks; undefined for the identities, which are all bare. */
  masked?: boolean;
  paths: string[];
}

/** faces-extra's populations, each to be reported apart: masks and masks-real, bare and masked, and the identities. */
export function extraPopulations(): ExtraPopulation[] {
  const extra = extraManifest();
  const folder = (set: 'masks' | 'masks-real', masked: boolean): ExtraPopulation => ({
    set,
    masked,
    paths: extra.filter((r) => r.set === set && Boolean(r.occlusion) === masked).map((r) => extraPath(r.file)),
  });
  return [
    folder('masks', false),
    folder('masks', true),
    folder('masks-real', false),
    folder('masks-real', true),
    { set: 'identities', paths: extra.filter((r) => r.set === 'identities').map((r) => extraPath(r.file)) },
  ];
}
