import { EXTRA_DIR, extraAvailable, FACES_DIR, facesAvailable } from '../../eval/dataset';

export { FACES_DIR, facesAvailable, faceManifest, facePath } from '../../eval/dataset';

/** `describe` when `available`; otherwise one skipped test and a warning, both naming the missing folder. */
function describeWhen(available: boolean, folder: string, name: string, body: () => void): void {
  if (available) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it.skip(`needs the real photos in ${folder} (absent here)`, () => undefined);
  });
  console.warn(`SKIPPED "${name}": the real photos in ${folder} are absent`);
}

/** `describe` when the shared photo set is present; otherwise skipped, saying why. */
export function describeWithFaces(name: string, body: () => void): void {
  describeWhen(facesAvailable, FACES_DIR, name, body);
}

/** `describe` when faces-extra is present; otherwise skipped, saying why. */
export function describeWithExtraFaces(name: string, body: () => void): void {
  describeWhen(extraAvailable, EXTRA_DIR, name, body);
}
