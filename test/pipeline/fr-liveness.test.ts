import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { type LocatedFace, locateFaces } from '../../src/pipeline/analyze';
import { decodeImage } from '../../src/pipeline/decode';
import { applyAffine } from '../../src/pipeline/image-ops';
import { FR_LIVENESS_DEFAULTS, frLivenessCrop, frLivenessProbabilities, frLivenessScores } from '../../src/pipeline/liveness';
import type { RgbImage } from '../../src/pipeline/types';
import { isCleanFrontal } from '../../eval/dataset';
import { describeWithFaces, faceManifest, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';

describe('frLivenessCrop (the package\'s crop)', () => {
  const corners = (m: ReturnType<typeof frLivenessCrop>) => [applyAffine(m, { x: 0, y: 0 }), applyAffine(m, { x: 128, y: 128 })];

  it('enlarges the box 2.7 times about its centre when it fits', () => {
    const [tl, br] = corners(frLivenessCrop({ width: 1000, height: 1000 }, { x: 450, y: 400, width: 100, height: 120 }, 2.7, 128));
    expect(tl.x).toBeCloseTo(500 - 135);
    expect(tl.y).toBeCloseTo(460 - 162);
    expect(br.x - tl.x).toBeCloseTo(270);
    expect(br.y - tl.y).toBeCloseTo(324);
  });

  it('shifts the crop inside the image at an edge, keeping its size', () => {
    const [tl, br] = corners(frLivenessCrop({ width: 1000, height: 1000 }, { x: 10, y: 900, width: 100, height: 80 }, 2.7, 128));
    expect(tl.x).toBeCloseTo(0);
    expect(br.x).toBeCloseTo(270);
    expect(br.y).toBeCloseTo(999);
    expect(br.y - tl.y).toBeCloseTo(216);
  });

  it('lowers the enlargement so a large face still fits', () => {
    const [tl, br] = corners(frLivenessCrop({ width: 400, height: 300 }, { x: 100, y: 50, width: 200, height: 200 }, 2.7, 128));
    // min(299/200, 399/200, 2.7) = 1.495
    expect(br.x - tl.x).toBeCloseTo(299);
    expect(br.y - tl.y).toBeCloseTo(299);
    expect(tl.y).toBeCloseTo(0);
  });
});

describeWithFaces('fr-liveness on real photos', () => {
  const { options, models } = useModels(['blazeface', 'facemesh', 'iris', 'fr-liveness']);

  const located = async (bytes: Buffer): Promise<{ image: RgbImage; faces: LocatedFace[] }> => {
    const image = await decodeImage(bytes, { ...options.limits, maxBytes: Infinity });
    return { image, faces: await locateFaces(image, models(), options.detection) };
  };

  it('gives a probability in [0, 1], the same on every run and whether the face comes alone or with another', async () => {
    const { image, faces } = await located(readFileSync(facePath('deepface_img29.jpg')));
    expect(faces).toHaveLength(1);
    const fr = models().get('fr-liveness');
    const [probabilities] = await frLivenessProbabilities(image, [faces[0].landmarks], fr);
    expect(probabilities).toHaveLength(3);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const first = await frLivenessScores(image, [faces[0].landmarks], fr);
    const again = await frLivenessScores(image, [faces[0].detection, faces[0].landmarks], fr);
    expect(first[0]).toBeGreaterThanOrEqual(0);
    expect(first[0]).toBeLessThanOrEqual(1);
    expect(first[0]).toBe(probabilities[FR_LIVENESS_DEFAULTS.liveClass]);
    expect(again[1]).toBe(first[0]);
    expect(again[0]).toBeGreaterThanOrEqual(0);
    expect(again[0]).toBeLessThanOrEqual(1);
  });

  it('barely moves when the photo is re-encoded as a high-quality JPEG', async () => {
    const bytes = readFileSync(facePath('deepface_img29.jpg'));
    const fr = models().get('fr-liveness');
    const original = await located(bytes);
    const copy = await located(await sharp(bytes).rotate().jpeg({ quality: 95 }).toBuffer());
    const [a] = await frLivenessScores(original.image, [original.faces[0].landmarks], fr);
    const [b] = await frLivenessScores(copy.image, [copy.faces[0].landmarks], fr);
    expect(Math.abs(a - b)).toBeLessThan(0.1);
  });

  it('scores nearly all clean real photos of the shared set live, with BGR input and class 0', async () => {
    const fr = models().get('fr-liveness');
    const live: number[] = [];
    const rgbClass0: number[] = [];
    const bgrClass1: number[] = [];
    for (const record of faceManifest().filter(isCleanFrontal)) {
      const { image, faces } = await located(readFileSync(facePath(record.file)));
      if (faces.length === 0) continue;
      const [score] = await frLivenessScores(image, [faces[0].landmarks], fr);
      const [bgr] = await frLivenessProbabilities(image, [faces[0].landmarks], fr, { scale: 2.7, channels: 'bgr' });
      const [rgb] = await frLivenessProbabilities(image, [faces[0].landmarks], fr, { scale: 2.7, channels: 'rgb' });
      live.push(score);
      bgrClass1.push(bgr[1]);
      rgbClass0.push(rgb[0]);
    }
    const share = (xs: number[]) => xs.filter((s) => s >= 0.5).length / xs.length;
    console.log(
      `fr-liveness on ${live.length} clean real photos: ${(100 * share(live)).toFixed(1)}% live (BGR, class 0); RGB class 0 ${(100 * share(rgbClass0)).toFixed(1)}%; BGR class 1 ${(100 * share(bgrClass1)).toFixed(1)}%`,
    );
    expect(live.length).toBeGreaterThanOrEqual(30);
    expect(share(live)).toBeGreaterThanOrEqual(0.9);
    // The other class, and the package's RGB order, read these same real photos as less live.
    expect(share(bgrClass1)).toBeLessThan(0.1);
    expect(share(rgbClass0)).toBeLessThanOrEqual(share(live));
  });
});
