import { FACES_DIR, facesAvailable } from '../../eval/dataset';

export { FACES_DIR, facesAvailable, faceManifest, facePath } from '../../eval/dataset';

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
