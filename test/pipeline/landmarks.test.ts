import { readFileSync } from 'node:fs';
import { seededRandom } from '../../eval/random';
import { findFaces } from '../../src/pipeline/analyze';
import { decodeImage } from '../../src/pipeline/decode';
import { addEyes } from '../../src/pipeline/landmarks';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';

const { options, models } = useModels(['blazeface', 'facemesh', 'iris']);

// The iris model runs after the faces are counted, on a smaller batch than before: the cascade's
// answers stay the whole assessment's only because each eye's numbers do not depend on the batch.
describe('the iris model', () => {
  it('gives each eye the same numbers, to the bit, alone or in a batch', async () => {
    const random = seededRandom(20);
    const plane = 3 * 64 * 64;
    const batch = Float32Array.from({ length: 4 * plane }, () => random());
    const together = await models().get('iris').run(batch, 4);
    for (let i = 0; i < 4; i++) {
      const alone = await models().get('iris').run(batch.slice(i * plane, (i + 1) * plane), 1);
      const per = together.eye_and_iris.length / 4;
      expect(alone.eye_and_iris).toEqual(together.eye_and_iris.slice(i * per, (i + 1) * per));
    }
  });
});

describeWithFaces('the eyes of faces found in a group photo', () => {
  it('are the same whether the iris model runs on each face alone or on all of them at once', async () => {
    const image = await decodeImage(readFileSync(facePath('compreface_000_5.jpg')), options.limits);
    const faces = (await findFaces(image, models(), options.detection)).map((f) => f.landmarks);
    expect(faces.length).toBeGreaterThanOrEqual(3);
    const together = await addEyes(image, faces, models().get('iris'));
    for (const [i, face] of faces.entries()) expect((await addEyes(image, [face], models().get('iris')))[0]).toEqual(together[i]);
  });
});
