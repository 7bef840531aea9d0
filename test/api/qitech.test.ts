import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import request from 'supertest';
import { blurred, closeUp, cutAtEdge, exposed, rotated, scaledTo, shrunkIntoCorner, sideBySide } from '../../eval/transforms';
import { analyze } from '../../src/pipeline/analyze';
import { analysisOptions } from '../../src/config';
import { createApp } from '../../src/api/app';
import { openStore } from '../../src/store';
import { jsonBodyLimit } from '../../src/api/base64';
import { USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';
import { sqliteDb } from '../helpers/sqlite';

const ROUTE = '/face_recognition/image';
const testApp = useApp();

const upload = (image: unknown, key: string | null = USER_KEY) => {
  const req = request(testApp().app).post(ROUTE);
  if (key) req.set('Authorization', key);
  return req.send(image === undefined ? {} : { image });
};
const get = (path: string, key: string | null = USER_KEY) => {
  const req = request(testApp().app).get(path);
  if (key) req.set('Authorization', key);
  return req;
};
const storedImages = () => (sqliteDb(testApp().store).prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;

describe('POST /face_recognition/image without real faces', () => {
  it('answers a face-free photo with image_quality / no_faces and stores nothing', async () => {
    const before = storedImages();
    const res = await upload((await faceFreeJpeg()).toString('base64')).expect(400);
    expect(res.body).toEqual({
      title: 'image_quality',
      description: 'This image was not approved in quality assessment. No face was found in the image.',
      image_status: 'no_faces',
      reasons: [{ image_status: 'no_faces', check: 'face_count', value: 0, min: 1 }],
    });
    expect(storedImages()).toBe(before);
  });

  it.each([
    ['no image', undefined, 'invalid_request', /must have required property 'image'/],
    ['an empty image', '', 'invalid_request', /\/image must NOT have fewer than 1 characters/],
    ['a number', 42, 'invalid_request', /\/image must be string/],
    ['text that is not base64', 'not base64!', 'invalid_image', /^The image is not valid base64\.$/],
    ['base64 text that is not an image', Buffer.from('GIF89a not accepted').toString('base64'), 'invalid_image', /^The image is neither JPEG nor PNG\.$/],
  ])('refuses %s with 400 and a title other than image_quality', async (_name, image, title, description) => {
    const res = await upload(image).expect(400);
    expect(res.body).toEqual({ title, description: expect.stringMatching(description) });
  });

  it('refuses an image over 3 MB, a body far over it, and bad JSON with 400', async () => {
    const limit = testApp().config.limits.maxImageBytes;
    const over = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(limit)]);
    expect((await upload(over.toString('base64')).expect(400)).body).toEqual({ title: 'invalid_image', description: 'The image is larger than 3145728 bytes.' });
    const huge = 'A'.repeat(jsonBodyLimit(limit) + 1);
    expect((await upload(huge).expect(400)).body.title).toBe('invalid_image');
    const bad = await request(testApp().app).post(ROUTE).set('Authorization', USER_KEY).set('content-type', 'application/json').send('{"image": ').expect(400);
    expect(bad.body).toEqual({ title: 'invalid_request', description: 'The request body is not valid JSON.' });
  });

  it('accepts a body with a whole 3 MB image in base64 with line breaks (then judges the bytes)', async () => {
    const limit = testApp().config.limits.maxImageBytes;
    const jpegLike = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(limit - 3, 7)]);
    const wrapped = jpegLike.toString('base64').replace(/.{76}/g, '$&\r\n');
    const res = await upload(`data:image/jpeg;base64,${wrapped}`).expect(400);
    expect(res.body).toEqual({ title: 'invalid_image', description: 'The image: The JPEG file cannot be read.' });
  });

  it('asks for an API key on every route: 401 in the QI Tech shape', async () => {
    expect((await upload('abc', null).expect(401)).body).toEqual({ title: 'unauthorized', description: 'An API key is required: send it in the Authorization header.' });
    expect((await upload('abc', 'wrong-key-0123456789').expect(401)).body.title).toBe('unauthorized');
    const key = '00000000-0000-4000-8000-000000000000';
    for (const path of [`${ROUTE}/${key}`, `${ROUTE}/${key}/file`, `${ROUTE}/${key}/cropped_file`]) {
      expect((await get(path, null).expect(401)).body.title).toBe('unauthorized');
      expect((await get(path).expect(404)).body).toEqual({ title: 'not_found', description: 'No image is stored under this key.' });
    }
    expect((await get(`${ROUTE}/not-a-key`).expect(400)).body).toEqual({ title: 'invalid_request', description: 'image_key must be a UUID.' });
  });
});

describe('QI Tech routes when the database fails', () => {
  it('answer 500 internal_error without saying why', async () => {
    const closed = await openStore(testApp().config.store);
    await closed.close();
    const broken = createApp({ ...testApp().deps, store: closed });
    const res = await request(broken).get(`${ROUTE}/00000000-0000-4000-8000-000000000000`).set('Authorization', USER_KEY).expect(500);
    expect(res.body).toEqual({ title: 'internal_error', description: 'The service failed to handle this request.' });
    expect(res.text).not.toMatch(/database|sqlite/i);
  });
});

describe('QI Tech routes with keys switched off for the family', () => {
  const open = useApp((config) => {
    config.auth.required.qitech = false;
  });
  it('answer without a key', async () => {
    const res = await request(open().app).post(ROUTE).send({ image: (await faceFreeJpeg()).toString('base64') }).expect(400);
    expect(res.body.image_status).toBe('no_faces');
  });
});

describeWithFaces('POST /face_recognition/image on real faces', () => {
  const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);
  const faceBox = async (bytes: Buffer) => {
    const analysis = await analyze(bytes, testApp().models, analysisOptions(testApp().config));
    return analysis.faces[0].geometry.faceBox;
  };

  it('stores a good portrait: 201 with its key and real size; metadata, original bytes and (once used) the crop', async () => {
    const portrait = await photo('facenet_paul_rudd_1.jpg');
    const before = storedImages();
    const res = await upload(portrait.toString('base64')).expect(201);
    const { width, height } = await sharp(portrait).metadata();
    expect(res.body).toEqual({
      image_key: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      file_size: portrait.length,
      width_px: width,
      height_px: height,
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
    });
    expect(Math.abs(Date.parse(res.body.created_at) - Date.now())).toBeLessThan(60_000);
    expect(storedImages()).toBe(before + 1);
    const key = res.body.image_key as string;

    expect((await get(`${ROUTE}/${key}`).expect(200)).body).toEqual(res.body);
    expect((await get(`${ROUTE}/${key.toUpperCase()}`).expect(200)).body).toEqual(res.body);
    const file = await get(`${ROUTE}/${key}/file`).buffer(true).expect(200);
    expect(file.headers['content-type']).toBe('image/jpeg');
    expect(file.headers['cache-control']).toBe('no-store');
    expect(Buffer.compare(file.body as Buffer, portrait)).toBe(0);

    const early = await get(`${ROUTE}/${key}/cropped_file`).expect(404);
    expect(early.body).toEqual({ title: 'not_found', description: 'The cropped file exists once the image has been used for an enrollment or a validation.' });
    await testApp().store.images.markUsed('default', key, new Date().toISOString());
    const crop = await get(`${ROUTE}/${key}/cropped_file`).buffer(true).expect(200);
    expect(crop.headers['content-type']).toBe('image/jpeg');
    const size = testApp().config.pipeline.crop.size;
    expect(await sharp(crop.body as Buffer).metadata()).toMatchObject({ format: 'jpeg', width: size, height: size });
  });

  describe('?faces=true', () => {
    const uploadWithFaces = (image: Buffer, faces = 'true') => request(testApp().app).post(`${ROUTE}?faces=${faces}`).set('Authorization', USER_KEY).send({ image: image.toString('base64') });
    const inside = ([x, y]: number[], box: { x: number; y: number; width: number; height: number }) => x >= box.x - 1 && x <= box.x + box.width + 1 && y >= box.y - 1 && y <= box.y + box.height + 1;

    it('adds the face box, the 468 landmarks and the 10 region outlines to a stored photo\'s answer, in its pixels', async () => {
      const portrait = await photo('facenet_paul_rudd_1.jpg');
      const res = await uploadWithFaces(portrait).expect(201);
      const validate = testApp().deps.api.validator('ImageMetadata');
      expect({ valid: validate(res.body), errors: validate.errors }).toEqual({ valid: true, errors: null });
      expect(res.body.faces).toHaveLength(1);
      const [face] = res.body.faces;
      const expected = await faceBox(portrait);
      expect(face.box.x).toBeCloseTo(expected.x, 0);
      expect(face.box.width).toBeCloseTo(expected.width, 0);
      expect(face.landmarks).toHaveLength(468);
      expect(face.landmarks.every((point: number[]) => inside(point, face.box))).toBe(true);
      expect(Object.keys(face.regions).sort()).toEqual(['cheek_left', 'cheek_right', 'chin', 'eye_left', 'eye_right', 'eyebrow_left', 'eyebrow_right', 'forehead', 'mouth', 'nose']);
      expect(Object.values(face.regions).some((region) => (region as { occluded: boolean }).occluded)).toBe(false);
      // The stored metadata stays QI Tech's.
      expect((await get(`${ROUTE}/${res.body.image_key}`).expect(200)).body.faces).toBeUndefined();
    });

    it('marks the covered regions of a rejected masked face, and both faces of a two-face photo', async () => {
      const masked = await uploadWithFaces(await photo('maskdet_with_mask043.jpg')).expect(400);
      expect(masked.body.image_status).toBe('wearing_acessories');
      expect(masked.body.faces[0].regions.mouth).toMatchObject({ occluded: true });
      expect(masked.body.faces[0].regions.eye_left).toMatchObject({ occluded: false });
      const two = await uploadWithFaces(await sideBySide(await photo('facenet_paul_rudd_1.jpg'), await photo('inspireface_RD_d1.jpg'))).expect(400);
      expect(two.body.image_status).toBe('multiple_faces');
      expect(two.body.faces).toHaveLength(2);
      const validate = testApp().deps.api.validator('ImageUploadError');
      expect({ valid: validate(two.body), errors: validate.errors }).toEqual({ valid: true, errors: null });
    });

    it('is left out with faces=false, and any other value is 400 invalid_request with nothing stored', async () => {
      const portrait = await photo('facenet_paul_rudd_1.jpg');
      expect((await uploadWithFaces(portrait, 'false').expect(201)).body.faces).toBeUndefined();
      const before = storedImages();
      const res = await uploadWithFaces(portrait, 'yes').expect(400);
      expect(res.body).toEqual({ title: 'invalid_request', description: 'Invalid request: the query parameter faces must be true or false.' });
      expect(storedImages()).toBe(before);
    });
  });

  it('keeps a PNG as PNG', async () => {
    const png = await sharp(await photo('facenet_paul_rudd_1.jpg')).resize(640).png().toBuffer();
    const res = await upload(png.toString('base64')).expect(201);
    const file = await get(`${ROUTE}/${res.body.image_key}/file`).buffer(true).expect(200);
    expect(file.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(file.body as Buffer, png)).toBe(0);
  });

  const cases: [string, string, () => Promise<Buffer>][] = [
    ['multiple_faces', 'face_count', async () => sideBySide(await photo('facenet_paul_rudd_1.jpg'), await photo('inspireface_RD_d1.jpg'))],
    ['close_face', 'face_area', async () => { const p = await photo('facenet_paul_rudd_1.jpg'); return closeUp(p, await faceBox(p)); }],
    ['distant_face', 'face_area', async () => shrunkIntoCorner(await photo('facenet_paul_rudd_1.jpg'), 0.3)],
    ['not_centered', 'edge_margin', async () => { const p = await photo('deepface_img30.jpg'); return cutAtEdge(p, await faceBox(p), 0.25); }],
    ['inclined_face', 'roll', async () => rotated(await photo('facenet_paul_rudd_1.jpg'), 25)],
    ['wearing_acessories', 'occlusion_', async () => photo('maskdet_with_mask043.jpg')],
    ['facial_expression', 'smile', async () => photo('deepface_img18.jpg')],
    ['brightness_problem', 'brightness', async () => exposed(await photo('facenet_paul_rudd_1.jpg'), 0.25)],
    ['sharpness_problem', 'sharpness', async () => blurred(await photo('facenet_paul_rudd_1.jpg'), 6)],
  ];
  it.each(cases)('answers %s with the failing check among the reasons, and stores nothing', async (status, check, make) => {
    const before = storedImages();
    const res = await upload((await make()).toString('base64')).expect(400);
    expect(res.body).toMatchObject({ title: 'image_quality', image_status: status });
    expect(res.body.description).toMatch(/^This image was not approved in quality assessment\. /);
    expect(res.body.reasons[0].image_status).toBe(status);
    expect(res.body.reasons.some((r: { check: string }) => r.check.startsWith(check))).toBe(true);
    expect(storedImages()).toBe(before);
  });
});
