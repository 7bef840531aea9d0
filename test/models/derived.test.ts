import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/config';
import { DERIVED_CATALOG, packageRoot, SHIPPED_CATALOG } from '../../src/models/catalog';
import { withExtraOutputs } from '../../src/models/derive';
import { readManifest, sha256 } from '../../src/models/manifest';
import { arcfaceAlignment } from '../../src/pipeline/align';
import { locateFaces } from '../../src/pipeline/analyze';
import { decodeImage } from '../../src/pipeline/decode';
import { cropToTensor } from '../../src/pipeline/image-ops';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';
import { seededRandom } from '../helpers/random';

const MODELS_DIR = join(PROJECT_ROOT, 'models');
const { options, models } = useModels(['blazeface', 'facemesh', 'iris', 'fr-feature', 'fr-feature-maps']);

describe('fr-feature-maps (fr-feature with feature maps exposed)', () => {
  it("is the package's fr-feature graph with the catalogued tensors added as outputs, rebuilt byte for byte", () => {
    const entry = DERIVED_CATALOG['fr-feature-maps'];
    const original = readFileSync(join(packageRoot(SHIPPED_CATALOG[entry.from].package), SHIPPED_CATALOG[entry.from].file));
    const committed = readFileSync(join(MODELS_DIR, 'fr-feature-maps.onnx'));
    expect(sha256(withExtraOutputs(original, entry.exposed))).toBe(sha256(committed));
    const manifest = readManifest(join(MODELS_DIR, 'manifest.json'));
    const derived = manifest.models.find((m) => m.name === 'fr-feature-maps');
    const shipped = manifest.models.find((m) => m.name === 'fr-feature');
    expect(derived?.sha256).toBe(sha256(committed));
    expect(derived?.source).toEqual(shipped?.source);
    expect(derived?.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['output', [1, 512]],
      ['map14', [1, 128, 14, 14]],
      ['map7', [1, 128, 7, 7]],
    ]);
    expect(() => withExtraOutputs(original, [{ tensor: 'no-such-tensor', name: 'x' }])).toThrow('no tensor no-such-tensor');
  });

  it("gives fr-feature's embedding bit for bit on random input", async () => {
    const random = seededRandom(5);
    const input = Float32Array.from({ length: 3 * 112 * 112 }, () => random() * 2 - 1);
    const [a, b] = [await models().get('fr-feature').run(input), await models().get('fr-feature-maps').run(input)];
    expect(Array.from(b.output)).toEqual(Array.from(a.output));
    expect(b.map14).toHaveLength(128 * 14 * 14);
    expect(b.map7).toHaveLength(128 * 7 * 7);
  });
});

describeWithFaces('fr-feature-maps on a real face', () => {
  it("gives fr-feature's embedding bit for bit on an aligned face crop", async () => {
    const image = await decodeImage(readFileSync(facePath('deepface_img29.jpg')), options.limits);
    const [face] = await locateFaces(image, models(), options.detection);
    const input = new Float32Array(3 * 112 * 112);
    cropToTensor(image, arcfaceAlignment(face.landmarks, 112), 112, [-127.5 / 128, 127.5 / 128], { data: input, offset: 0 });
    const [a, b] = [await models().get('fr-feature').run(input), await models().get('fr-feature-maps').run(input)];
    expect(Array.from(b.output)).toEqual(Array.from(a.output));
  });
});
