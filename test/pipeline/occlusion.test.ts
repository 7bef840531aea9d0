import { readFileSync } from 'node:fs';
import { analyze, locateFaces } from '../../src/pipeline/analyze';
import { decodeImage } from '../../src/pipeline/decode';
import { OCCLUSION_FEATURES, occlusionFeatures, OCCLUSION_REGIONS } from '../../src/pipeline/occlusion';
import { applyOccluder, occluderSvg, skinColour } from '../../train/occluders';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';
import { seededRandom } from '../helpers/random';

const { options, models } = useModels();

describeWithFaces('occlusion on real photos', () => {
  it('finds no occluded region or glasses on a bare frontal face, and the eyes and glasses under drawn dark glasses', async () => {
    const bytes = readFileSync(facePath('deepface_img29.jpg'));
    const clean = await analyze(bytes, models(), options);
    for (const region of OCCLUSION_REGIONS) expect(clean.faces[0].occlusion[region]).toBeLessThan(0.6);
    expect(clean.faces[0].geometry.glasses).toBe(false);

    const image = await decodeImage(bytes, options.limits);
    const [face] = await locateFaces(image, models(), options.detection);
    expect(occlusionFeatures(image, face.landmarks)).toHaveLength(OCCLUSION_FEATURES);
    const glasses = occluderSvg('sunglasses', face.landmarks, skinColour(image, face.landmarks), seededRandom(99));
    const occluded = await applyOccluder(image, face.landmarks, glasses, 90);
    expect(occluded.coverage.eye_left).toBeGreaterThan(0.9);
    const result = await analyze(occluded.jpeg, models(), options);
    expect(result.faces[0].occlusion.eye_left).toBeGreaterThanOrEqual(0.6);
    expect(result.faces[0].occlusion.eye_right).toBeGreaterThanOrEqual(0.6);
    expect(result.faces[0].occlusion.chin).toBeLessThan(0.6);
    expect(result.faces[0].geometry.glasses).toBe(true);
  });

  it('flags the mouth and chin of a real masked face', async () => {
    const result = await analyze(readFileSync(facePath('inspireface_mask.png')), models(), options);
    expect(result.faces).toHaveLength(1);
    expect(result.faces[0].occlusion.mouth).toBeGreaterThanOrEqual(0.6);
  });
});
