import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { analyze, assess } from '../../src/pipeline/analyze';
import { decodeImage, ImageError } from '../../src/pipeline/decode';
import { embedFaces, similarity } from '../../src/pipeline/embed';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';

const { config, options, models } = useModels();

describe('analyze on synthetic images', () => {
  it('finds no face in a gradient or in noise', async () => {
    const gradient = await sharp(Buffer.from(Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 7) % 256)), { raw: { width: 64, height: 48, channels: 3 } })
      .resize(640, 480)
      .jpeg()
      .toBuffer();
    const result = await analyze(gradient, models(), options);
    expect([result.width, result.height, result.format, result.faces]).toEqual([640, 480, 'jpeg', []]);
  });

  it('raises a typed error for bytes that are not an image', async () => {
    await expect(analyze(Buffer.from('%PDF-1.7 not an image'), models(), options)).rejects.toBeInstanceOf(ImageError);
  });
});

describeWithFaces('analyze on real photos', () => {
  const read = (file: string) => readFileSync(facePath(file));

  it('measures one frontal face: box, landmarks, pose, eyes, crop, embedding and liveness', async () => {
    const result = await analyze(read('deepface_img29.jpg'), models(), options);
    expect(result.faces).toHaveLength(1);
    const [face] = result.faces;
    const { faceBox, pupilRight, pupilLeft } = face.geometry;
    expect(face.landmarks.mesh).toHaveLength(468);
    expect(face.landmarks.meshScore).toBeGreaterThan(0.9);
    for (const pupil of [pupilRight, pupilLeft]) {
      expect(pupil.x).toBeGreaterThan(faceBox.x);
      expect(pupil.x).toBeLessThan(faceBox.x + faceBox.width);
    }
    // The subject's right eye is on the image's left in an unmirrored photo.
    expect(pupilRight.x).toBeLessThan(pupilLeft.x);
    expect(face.geometry.ipd).toBeGreaterThan(50);
    expect(face.geometry.yawLabel).toBe('forward');
    expect(face.geometry.rollLabel).toBe('level');
    expect(face.geometry.eyeClosedRight || face.geometry.eyeClosedLeft).toBe(false);
    expect(face.geometry.fullyInside).toBe(true);
    expect(face.expression.neutral).toBeGreaterThan(0.5);
    const norm = Math.sqrt(face.embedding.reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(1, 4);
    expect(face.liveness.liveness).toBeGreaterThan(0.5);
    const crop = await sharp(face.crop).metadata();
    expect([crop.format, crop.width, crop.height]).toEqual(['jpeg', config.pipeline.crop.size, config.pipeline.crop.size]);
  });

  it('analyses a large image shrunk on load, and reports its size, boxes and landmarks in the original pixels', async () => {
    const original = read('deepface_img29.jpg');
    const { width, height } = await sharp(original).metadata();
    const large = await sharp(original).resize(width * 3, height * 3).jpeg({ quality: 95 }).toBuffer();
    const whole = await analyze(original, models(), options);
    // At the original's pixel count, the three-times image is analysed at its original size.
    const shrunk = await analyze(large, models(), { ...options, limits: { ...options.limits, analysisPixels: width * height } });
    expect([shrunk.width, shrunk.height]).toEqual([width * 3, height * 3]);
    expect(shrunk.faces).toHaveLength(1);
    const [near, far] = [whole.faces[0], shrunk.faces[0]];
    const close = (value: number, expected: number, tolerance: number) => expect(Math.abs(value - expected)).toBeLessThanOrEqual(tolerance);
    const ipd = near.geometry.ipd;
    for (const key of ['x', 'y', 'width', 'height'] as const) {
      close(far.geometry.faceBox[key], near.geometry.faceBox[key] * 3, ipd * 0.15);
      close(far.detection.box[key], near.detection.box[key] * 3, ipd * 0.3);
    }
    close(far.geometry.ipd, ipd * 3, ipd * 0.15);
    close(far.geometry.pupilLeft.x, near.geometry.pupilLeft.x * 3, ipd * 0.15);
    close(far.landmarks.mesh[1].y, near.landmarks.mesh[1].y * 3, ipd * 0.15);
    close(far.geometry.margins.left, near.geometry.margins.left * 3, ipd * 0.15);
    expect(far.geometry.faceAreaRatio).toBeCloseTo(near.geometry.faceAreaRatio, 2);
  });

  it('assesses a face as the full analysis does, without liveness and crop', async () => {
    const [full, light] = await Promise.all([analyze(read('deepface_img29.jpg'), models(), options), assess(read('deepface_img29.jpg'), models(), options)]);
    const { liveness, crop, ...rest } = full.faces[0];
    expect(liveness.antispoof).toBeGreaterThan(0);
    expect(crop.length).toBeGreaterThan(0);
    expect(light).toEqual({ ...full, faces: [rest] });
  });

  it('negates yaw and roll when the photo is mirrored', async () => {
    const original = await analyze(read('deepface_img61.jpg'), models(), options);
    const mirrored = await analyze(await sharp(read('deepface_img61.jpg')).flop().jpeg({ quality: 95 }).toBuffer(), models(), options);
    const [a, b] = [original.faces[0].geometry, mirrored.faces[0].geometry];
    expect(Math.abs(a.yaw)).toBeGreaterThan(8);
    expect(Math.abs(a.yaw + b.yaw)).toBeLessThanOrEqual(3);
    expect(Math.abs(a.roll + b.roll)).toBeLessThanOrEqual(3);
    expect(Math.sign(a.yaw)).toBe(-Math.sign(b.yaw));
  });

  it('scores the same person above two different people', async () => {
    const [a1, a2, b] = await Promise.all(['deepface_img29.jpg', 'deepface_img32.jpg', 'deepface_img1.jpg'].map((f) => analyze(read(f), models(), options)));
    const same = similarity(a1.faces[0].embedding, a2.faces[0].embedding);
    const different = similarity(a1.faces[0].embedding, b.faces[0].embedding);
    expect(same).toBeGreaterThan(different + 0.1);
  });

  it('finds two faces side by side, largest first, and none in a landscape', async () => {
    const left = await sharp(read('deepface_img29.jpg')).resize(400, 533).toBuffer();
    const right = await sharp(read('deepface_img1.jpg')).resize(300, 405).toBuffer();
    const pair = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#ffffff' } })
      .composite([
        { input: left, left: 0, top: 0 },
        { input: right, left: 450, top: 100 },
      ])
      .jpeg()
      .toBuffer();
    const result = await analyze(pair, models(), options);
    expect(result.faces).toHaveLength(2);
    const [first, second] = result.faces.map((f) => f.geometry.faceBox);
    expect(first.width * first.height).toBeGreaterThan(second.width * second.height);
    expect(first.x).toBeLessThan(400);
    expect(second.x).toBeGreaterThan(450);
    expect((await analyze(read('inspireface_view.jpg'), models(), options)).faces).toEqual([]);
  });

  it('applies EXIF orientation before detecting', async () => {
    const sideways = await sharp(read('deepface_img29.jpg')).rotate(90).withMetadata({ orientation: 8 }).jpeg().toBuffer();
    const result = await analyze(sideways, models(), options);
    expect([result.width, result.height]).toEqual([600, 800]);
    expect(result.faces).toHaveLength(1);
    expect(result.faces[0].geometry.rollLabel).toBe('level');
  });

  it('embeds the face aligned on the five-point template; the mirror option adds the mirrored crop', async () => {
    const bytes = read('deepface_img29.jpg');
    const [face] = (await analyze(bytes, models(), options)).faces;
    const image = await decodeImage(bytes, options.limits);
    const model = models().get('fr-feature');
    const [plain] = await embedFaces(image, [face.landmarks], model, { ...options.embedding, mirror: false });
    const [both] = await embedFaces(image, [face.landmarks], model, { ...options.embedding, mirror: true });
    const mirrorBytes = await sharp(bytes).rotate().flop().png().toBuffer();
    const mirrorImage = await decodeImage(mirrorBytes, options.limits);
    const [ofMirror] = (await analyze(mirrorBytes, models(), options)).faces;
    const [plainOfMirror] = await embedFaces(mirrorImage, [ofMirror.landmarks], model, { ...options.embedding, mirror: false });
    expect(Math.hypot(...both)).toBeCloseTo(1, 5);
    // A photo and its mirror image are one person to the model, and the mirror option makes them closer still.
    expect(similarity(plain, plainOfMirror)).toBeGreaterThan(0.8);
    expect(similarity(both, (await embedFaces(mirrorImage, [ofMirror.landmarks], model, { ...options.embedding, mirror: true }))[0])).toBeGreaterThan(similarity(plain, plainOfMirror));
    // The analysis took the aligned crop's embedding from the occlusion stage's fr-feature-maps run: bit for bit fr-feature's.
    expect(face.embedding).toEqual(both);
    expect(face.embeddingModel).toBe('fr-feature');
  });
});
