import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../../src/config';

/** The shared photo set; FACEGATE_FACES_DIR points elsewhere. */
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

/** `describe` when the photo set is present; otherwise skipped, saying why. */
export function describeWithFaces(name: string, body: () => void): void {
  if (facesAvailable) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it.skip(`needs the real photos in ${FACES_DIR} (absent here)`, () => undefined);
  });
  console.warn(`SKIPPED "${name}": the real photos in ${FACES_DIR} are absent`);
}
