import { readFileSync } from 'node:fs';
import { analyze } from '../../src/pipeline/analyze';
import { decodeImage } from '../../src/pipeline/decode';
import { blockiness, noiseSigma } from '../../src/pipeline/photometry';
import { credit, QUALITY_FEATURES, qualityFeatures, qualityScore } from '../../src/pipeline/quality';
import type { Geometry, Photometry } from '../../src/pipeline/types';
import { DEGRADATIONS } from '../../eval/transforms';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';
import { seededRandom } from '../helpers/random';

const { config, options, models } = useModels();
const IQA = config.gate.fiqa.iqa;

describe('credit curves', () => {
  it('pass through 0.1 and 0.9 at the two given values, rising or falling', () => {
    expect(credit(10, [10, 20])).toBeCloseTo(0.1);
    expect(credit(20, [10, 20])).toBeCloseTo(0.9);
    expect(credit(15, [10, 20])).toBeCloseTo(0.5);
    expect(credit(4, [12, 4])).toBeCloseTo(0.9);
    expect(credit(12, [12, 4])).toBeCloseTo(0.1);
    expect(credit(40, [12, 4])).toBeLessThan(credit(30, [12, 4]));
  });
});

describe('quality score', () => {
  it('rises with the predicted genuine similarity and keeps the example threshold 0.435 between the useless and the typical face', () => {
    const scores = [0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((p) => qualityScore(p, options.quality));
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeGreaterThan(scores[i - 1]);
    expect(IQA).toBe(0.435);
    // docs/quality.md: recognition starts to suffer at a predicted similarity of 0.56; a typical clean face is at 0.70.
    expect(qualityScore(0.5, options.quality)).toBeLessThan(IQA);
    expect(qualityScore(0.58, options.quality)).toBeGreaterThan(IQA);
    expect(qualityScore(0.7, options.quality)).toBeGreaterThan(0.85);
  });

  it('reads the raw embedding norm and the measures in the documented order', () => {
    const photometry = { brightness: 0.3, underExposed: 0.01, overExposed: 0.02, sharpness: 99, noise: 2, blockiness: 1.1 } as Photometry;
    const geometry = { ipd: 64, yaw: -12, pitch: 5 } as Geometry;
    const features = qualityFeatures({ norm: 21, photometry, geometry });
    expect(features).toHaveLength(QUALITY_FEATURES);
    expect([...features].map((f) => Number(f.toFixed(4)))).toEqual([21, 2, 0, 6, 0.1, 0, 0.03, 2, 1.1, 12]);
  });
});

describe('noise and compression measures', () => {
  const size = 64;
  const smooth = Float32Array.from({ length: size * size }, (_, i) => 100 + (i % size) + Math.floor(i / size) / 2);

  it('estimates the standard deviation of added Gaussian noise', () => {
    expect(noiseSigma(smooth, size, size)).toBeCloseTo(0, 5);
    const random = seededRandom(5);
    const noisy = smooth.map((v) => v + 10 * Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random()));
    expect(noiseSigma(noisy, size, size)).toBeGreaterThan(8.5);
    expect(noiseSigma(noisy, size, size)).toBeLessThan(11.5);
  });

  it('reads steps on the 8-pixel grid as blocking', () => {
    const random = seededRandom(6);
    const natural = Float32Array.from({ length: size * size }, () => 100 + 20 * random());
    expect(blockiness({ lum: natural, width: size, height: size, x0: 0, y0: 0 })).toBeCloseTo(1, 1);
    // Flat 8x8 blocks of different levels: every step sits on a block boundary.
    const blocks = Float32Array.from({ length: size * size }, (_, i) => 100 + 10 * ((Math.floor((i % size) / 8) + Math.floor(Math.floor(i / size) / 8)) % 3) + random());
    expect(blockiness({ lum: blocks, width: size, height: size, x0: 0, y0: 0 })).toBeGreaterThan(3);
  });
});

describeWithFaces('quality of real photos and degraded copies', () => {
  const FILE = 'deepface_img29.jpg';
  const scoreOf = async (bytes: Uint8Array) => (await analyze(bytes, models(), options)).faces[0]?.quality.score ?? 0;
  let image: Awaited<ReturnType<typeof decodeImage>>;
  let ipd = 0;
  let clean = 0;

  beforeAll(async () => {
    const bytes = readFileSync(facePath(FILE));
    image = await decodeImage(bytes, options.limits);
    const [face] = (await analyze(bytes, models(), options)).faces;
    ipd = face.geometry.ipd;
    clean = face.quality.score;
  });

  it('passes a sharp, bare frontal face at the example threshold', () => {
    expect(clean).toBeGreaterThanOrEqual(IQA);
  });

  it('keeps ordinary JPEG and downscaling that recognition does not mind above the threshold', async () => {
    // JPEG quality 30 and half size: the old product of credits fell below 0.435 for JPEG 30.
    expect(await scoreOf(await DEGRADATIONS.jpeg(image, 1, ipd))).toBeGreaterThanOrEqual(IQA);
    expect(await scoreOf(await DEGRADATIONS.downscaling(image, 1, ipd))).toBeGreaterThanOrEqual(IQA);
  });

  it('falls with blur and with noise, step by step; the strongest blur, which recognition fails, is refused', async () => {
    const strongest: Record<string, number> = {};
    for (const name of ['blur', 'noise'] as const) {
      const scores = [clean];
      for (const strength of [2, 4]) scores.push(await scoreOf(await DEGRADATIONS[name](image, strength, ipd)));
      expect(scores[1]).toBeLessThan(scores[0]);
      expect(scores[2]).toBeLessThan(scores[1]);
      strongest[name] = scores[2];
    }
    // At blur strength 4 recognition fails 78% of genuine comparisons (docs/quality.md).
    expect(strongest.blur).toBeLessThan(IQA);
  });
});
