import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { analyze } from '../../src/pipeline/analyze';
import { faceMotion } from '../../src/pipeline/face-motion';
import type { Point3 } from '../../src/pipeline/types';
import { videoFrames } from '../../src/pipeline/video';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';
import { noisyStill, pannedStill, syntheticMotionVideo, videoOfStill } from '../helpers/video';

/**
 * The face-motion measure on real frames sampled as the service samples them: replays of one still
 * stay low, the same still warped along its mesh (SYNTHETIC non-rigid motion) scores well above them.
 */
describeWithFaces('faceMotion on videos made from a real photo', () => {
  const { config, options, models } = useModels();
  const photoOptions = () => ({ ...options, limits: { ...options.limits, maxBytes: Infinity } });
  let photo: Buffer;

  beforeAll(async () => {
    // A selfie framing: the face about half the width of a 640-pixel clip.
    photo = await sharp(readFileSync(facePath('compreface_001_A.jpg'))).rotate().jpeg({ quality: 95 }).toBuffer();
    const [face] = (await analyze(photo, models(), photoOptions())).faces;
    const box = face.geometry.faceBox;
    const meta = await sharp(photo).metadata();
    const width = Math.min(box.width * 2.2, meta.width!);
    const height = Math.min(width * 1.25, meta.height!);
    const left = Math.round(Math.min(Math.max(box.x + box.width / 2 - width / 2, 0), meta.width! - width));
    const top = Math.round(Math.min(Math.max(box.y + box.height / 2 - height / 2, 0), meta.height! - height));
    photo = await sharp(photo).extract({ left, top, width: Math.floor(width), height: Math.floor(height) }).jpeg({ quality: 95 }).toBuffer();
  });

  async function motionOf(video: Buffer) {
    const meshes: Point3[][] = [];
    for (const frame of await videoFrames(video, config.video)) {
      const [face] = (await analyze(frame, models(), photoOptions())).faces;
      if (face) meshes.push(face.landmarks.mesh);
    }
    return faceMotion(meshes);
  }

  it('a looped still has almost no non-rigid motion', async () => {
    const motion = await motionOf(await videoOfStill(photo, 3));
    expect(motion.frames).toBeGreaterThanOrEqual(5);
    expect(motion.nonRigid).toBeLessThan(0.01);
  });

  it('a panned or re-noised still stays well below the same still warped along its mesh', async () => {
    const panned = await motionOf(await pannedStill(photo));
    const noisy = await motionOf(await noisyStill(photo));
    const live = await motionOf(await syntheticMotionVideo(photo, models(), photoOptions()));
    console.log(`nonRigid: panned ${panned.nonRigid.toFixed(4)}, noisy ${noisy.nonRigid.toFixed(4)}, synthetic motion ${live.nonRigid.toFixed(4)}`);
    expect(live.frames).toBeGreaterThanOrEqual(5);
    expect(live.nonRigid).toBeGreaterThan(1.5 * Math.max(panned.nonRigid, noisy.nonRigid));
    expect(live.eyeOpennessRange).toBeGreaterThan(0.02);
  });
});
