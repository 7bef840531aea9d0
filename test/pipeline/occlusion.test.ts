import { readFileSync } from 'node:fs';
import { analyze, locateFaces } from '../../src/pipeline/analyze';
import { decodeImage } from '../../src/pipeline/decode';
import { arcfaceAlignment } from '../../src/pipeline/align';
import { cropOutlines, OCCLUSION_FEATURES, OCCLUSION_PARTS, occlusionFeatures, OCCLUSION_REGIONS, POOLED_PARTS, pooledView, regionCellWeights } from '../../src/pipeline/occlusion';
import { applyOccluder, occluderSvg, skinColour } from '../../train/occluders';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';
import { seededRandom } from '../helpers/random';

const { options, models } = useModels();

describe('occlusion features: pooling fr-feature-maps over the regions', () => {
  it('weighs map cells by the share of each region inside them', () => {
    const square = [
      { x: 0, y: 0 },
      { x: 16, y: 0 },
      { x: 16, y: 8 },
      { x: 0, y: 8 },
    ];
    const outside = square.map((p) => ({ x: p.x + 200, y: p.y + 50 }));
    const [inside, beyond] = regionCellWeights([square, outside], 14);
    // 112 / 14 = 8-pixel cells: the square fills the first two cells of the top row.
    expect(inside[0]).toBeCloseTo(0.5);
    expect(inside[1]).toBeCloseTo(0.5);
    expect(inside.reduce((a, b) => a + b, 0)).toBeCloseTo(1);
    // Wholly outside the crop: the cell nearest its centre (right edge, row floor(54 / 8)).
    expect(beyond[6 * 14 + 13]).toBe(1);
  });

  it('takes the asked parts of each region, region by region', () => {
    const all = Float32Array.from({ length: OCCLUSION_REGIONS.length * POOLED_PARTS.length * 128 }, (_, i) => i);
    const view = pooledView(all, ['max14', 'mean7']);
    expect(view).toHaveLength(OCCLUSION_REGIONS.length * 2 * 128);
    expect([view[0], view[128], view[256]]).toEqual([128, 256, 3 * 128 + 128]);
  });
});

describeWithFaces('occlusion on real photos', () => {
  it('finds no occluded region or glasses on a bare frontal face, and the eyes and glasses under drawn dark glasses', async () => {
    const bytes = readFileSync(facePath('deepface_img29.jpg'));
    const clean = await analyze(bytes, models(), options);
    for (const region of OCCLUSION_REGIONS) expect(clean.faces[0].occlusion[region]).toBeLessThan(0.6);
    expect(clean.faces[0].geometry.glasses).toBe(false);

    const image = await decodeImage(bytes, options.limits);
    const [face] = await locateFaces(image, models(), options.detection);
    const maps = models().get('fr-feature-maps');
    const features = await occlusionFeatures(image, face.landmarks, maps);
    expect(features).toHaveLength(OCCLUSION_FEATURES);
    // What training records (every part) holds what the model reads.
    expect(Array.from(pooledView(await occlusionFeatures(image, face.landmarks, maps, POOLED_PARTS), OCCLUSION_PARTS))).toEqual(Array.from(features));
    // The regions land in the aligned crop where a face has them: the right eye image-left, the mouth under the nose.
    const outlines = cropOutlines(face.landmarks, arcfaceAlignment(face.landmarks, 112));
    const centre = (r: (typeof OCCLUSION_REGIONS)[number]) => {
      const o = outlines[OCCLUSION_REGIONS.indexOf(r)];
      return { x: o.reduce((s, p) => s + p.x, 0) / o.length, y: o.reduce((s, p) => s + p.y, 0) / o.length };
    };
    expect(centre('eye_right').x).toBeLessThan(centre('eye_left').x);
    expect(Math.abs(centre('eye_right').y - 51.7)).toBeLessThan(8);
    expect(centre('mouth').y).toBeGreaterThan(centre('nose').y);
    const glasses = occluderSvg('sunglasses', face.landmarks, skinColour(image, face.landmarks), seededRandom(99));
    const occluded = await applyOccluder(image, face.landmarks, glasses, 90);
    expect(occluded.coverage.eye_left).toBeGreaterThan(0.9);
    const result = await analyze(occluded.jpeg, models(), options);
    expect(result.faces[0].occlusion.eye_left).toBeGreaterThanOrEqual(0.6);
    expect(result.faces[0].occlusion.eye_right).toBeGreaterThanOrEqual(0.6);
    expect(result.faces[0].occlusion.chin).toBeLessThan(0.6);
    expect(result.faces[0].geometry.glasses).toBe(true);
  });

  it('reads drawn clear eyeglasses as glasses, not occlusion', async () => {
    const bytes = readFileSync(facePath('deepface_img29.jpg'));
    const image = await decodeImage(bytes, options.limits);
    const [face] = await locateFaces(image, models(), options.detection);
    const frames = occluderSvg('eyeglasses', face.landmarks, skinColour(image, face.landmarks), seededRandom(99));
    const result = await analyze((await applyOccluder(image, face.landmarks, frames, 90)).jpeg, models(), options);
    for (const region of OCCLUSION_REGIONS) expect(result.faces[0].occlusion[region]).toBeLessThan(0.6);
    expect(result.faces[0].geometry.glasses).toBe(true);
  });

  it('flags the mouth and chin of a real masked face', async () => {
    const result = await analyze(readFileSync(facePath('inspireface_mask.png')), models(), options);
    expect(result.faces).toHaveLength(1);
    expect(result.faces[0].occlusion.mouth).toBeGreaterThanOrEqual(0.6);
  });
});
