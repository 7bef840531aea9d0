import { join } from 'node:path';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../../src/config';
import { CATALOG, CONVERTED_MODELS, type ConvertedModel } from '../../src/models/catalog';
import { permute } from '../../src/models/onnx-converter';
import { loadModels } from '../../src/models/registry';
import { facePath, facesAvailable, FACES_DIR } from '../helpers/faces';
import { seededRandom } from '../helpers/random';
import { loadTfjsOriginal, runTfjs } from '../helpers/tfjs-original';

/**
 * Every converted model must reproduce its TFJS original on the same inputs, on every output:
 * |difference| at most 1e-3, or, for values above 1000 in magnitude, at most 1e-6 of the value.
 * The second clause exists for blazeface's background-anchor logits, which reach -8000 on real
 * images: float32 spacing there is 5e-4, and ONNX Runtime and TFJS sum convolutions in different
 * orders, so the two differ by a few units in the last place (about 1.5e-3 to 3e-3, relative 5e-6).
 */
const ABSOLUTE_TOLERANCE = 1e-3;
const RELATIVE_TOLERANCE = 1e-6;

function allowed(expected: number): number {
  return Math.max(ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE * Math.abs(expected));
}

/** A close-up portrait of the shared photo set, with the face and the right eye located by hand. */
const PORTRAIT = {
  file: 'deepface_img32.jpg',
  face: { left: 100, top: 250, width: 800, height: 800 },
  eye: { left: 270, top: 540, width: 160, height: 160 },
};

interface Input {
  label: string;
  /** NHWC values for one image. */
  data: Float32Array;
}

function scaleToRange(bytes: Uint8Array, range: readonly [number, number]): Float32Array {
  const [low, high] = range;
  return Float32Array.from(bytes, (v) => low + (v / 255) * (high - low));
}

function noiseInput(name: ConvertedModel, shape: number[]): Input {
  const random = seededRandom(CONVERTED_MODELS.indexOf(name) + 1);
  const [low, high] = CATALOG[name].input.range;
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => low + random() * (high - low));
  return { label: 'seeded noise', data };
}

type PortraitView = 'face' | 'eye' | 'letterboxed';

async function portraitInput(name: ConvertedModel, view: PortraitView, height: number, width: number, channels: number): Promise<Input> {
  let image = sharp(facePath(PORTRAIT.file));
  if (view === 'letterboxed') image = image.resize(width, height, { fit: 'contain', background: '#000' });
  else image = image.extract(PORTRAIT[view]).resize(width, height);
  image = image.removeAlpha();
  if (channels === 1) image = image.recomb([[0.2989, 0.587, 0.114], [0.2989, 0.587, 0.114], [0.2989, 0.587, 0.114]]).extractChannel(0);
  const { data } = await image.raw().toBuffer({ resolveWithObject: true });
  const labels: Record<PortraitView, string> = { face: 'real face crop', eye: 'real eye crop', letterboxed: 'real photo, letterboxed' };
  return { label: labels[view], data: scaleToRange(data, CATALOG[name].input.range) };
}

const figures: string[] = [];

afterAll(() => {
  process.stdout.write(`\nONNX vs TFJS, max |difference| per output (allowed: 1e-3, or 1e-6 of values above 1000):\n${figures.join('\n')}\n`);
});

if (!facesAvailable) console.warn(`parity runs on seeded noise only: the real photos in ${FACES_DIR} are absent`);

describe.each(CONVERTED_MODELS)('%s', (name) => {
  it('matches its TFJS original on every output', async () => {
    const registry = await loadModels({ dir: join(PROJECT_ROOT, 'models'), load: [name], intraOpThreads: 1, interOpThreads: 1 });
    const runner = registry.get(name);
    const original = await loadTfjsOriginal(name);
    const [channels, height, width] = runner.imageShape;
    const nhwcShape = [1, height, width, channels];
    const inputs = [noiseInput(name, nhwcShape)];
    if (facesAvailable) {
      const views: PortraitView[] = name === 'iris' ? ['eye'] : name === 'blazeface' ? ['face', 'letterboxed'] : ['face'];
      for (const view of views) inputs.push(await portraitInput(name, view, height, width, channels));
    }

    for (const input of inputs) {
      const expected = runTfjs(original, input.data, nhwcShape);
      const nchw = permute(input.data, nhwcShape, [0, 3, 1, 2]).data;
      const actual = (await runner.run(nchw)) as Record<string, Float32Array>;
      runner.entry.outputs.forEach((output, i) => {
        expect(actual[output.name]).toHaveLength(expected[i].length);
        let maxDiff = 0;
        let atValue = 0;
        let worstShareOfAllowance = 0;
        expected[i].forEach((value, k) => {
          const diff = Math.abs(value - actual[output.name][k]);
          if (diff > maxDiff) [maxDiff, atValue] = [diff, value];
          worstShareOfAllowance = Math.max(worstShareOfAllowance, diff / allowed(value));
        });
        figures.push(
          `  ${name.padEnd(13)} ${output.name.padEnd(11)} ${input.label.padEnd(24)} max|diff| ${maxDiff.toExponential(2)}` +
            ` at value ${atValue.toPrecision(4).padStart(10)}  (${(100 * worstShareOfAllowance).toFixed(0)}% of allowance)`,
        );
        expect(worstShareOfAllowance).toBeLessThanOrEqual(1);
      });
    }
    original.model.dispose();
    await registry.release();
  });
});
