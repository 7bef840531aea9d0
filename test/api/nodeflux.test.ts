import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { loadApiDocument } from '../../src/api/openapi';
import { loadConfig } from '../../src/config';
import { createKeyring } from '../../src/config/api-keys';
import { loadModels } from '../../src/models/registry';
import { inProcess } from '../../src/pipeline/analysis-pool';
import { createScanner } from '../../src/scan/scanner';
import { openStore } from '../../src/store';
import { blurred, scaledTo, sideBySide } from '../../eval/transforms';
import { USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';

const ROUTE = '/NFFS-FIQA/v1/predict';
const JOB_ID = /^\d{17}[0-9a-f]{64}$/;
const testApp = useApp();

const b64 = (bytes: Buffer) => bytes.toString('base64');
const predict = (body: unknown, key: string | null = USER_KEY) => {
  const req = request(testApp().app).post(ROUTE);
  if (key) req.set('Authorization', key);
  return req.send(body as object);
};

function expectError(res: request.Response, status: number, message: string | RegExp) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ job: { id: expect.stringMatching(JOB_ID), result: null }, message: expect.stringMatching(message), ok: false });
}

describe('POST /NFFS-FIQA/v1/predict without real faces', () => {
  it('answers a face-free image: not accepted, empty occlusion and IQA, with a job id', async () => {
    const res = await predict({ images: [b64(await faceFreeJpeg())] }).expect(200);
    expect(res.body).toEqual({
      job: { id: expect.stringMatching(JOB_ID), result: { analytic_type: 'FACE IQA PIPELINE', result: [{ accepted: false, face_iqa: {}, face_occlusion: {} }], status: 'success' } },
      message: 'Your Image not accepted. Face not detected or Multiple faces detected.',
      ok: true,
    });
    const stamp = res.body.job.id.slice(0, 17);
    expect(Math.abs(Date.parse(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(8, 10)}:${stamp.slice(10, 12)}:${stamp.slice(12, 14)}.${stamp.slice(14)}Z`) - Date.now())).toBeLessThan(60_000);
  });

  it('gives every job its own id', async () => {
    const ids = await Promise.all([1, 2, 3].map(async () => (await predict({}).expect(400)).body.job.id as string));
    expect(new Set(ids).size).toBe(3);
  });

  it('asks for an API key: missing or wrong → 401; Authorization, Bearer and x-api-key work', async () => {
    const body = { images: [b64(await faceFreeJpeg())] };
    expectError(await predict(body, null), 401, /API key is required/);
    expectError(await predict(body, 'not-the-key-0123456789'), 401, /not valid/);
    await request(testApp().app).post(ROUTE).set('Authorization', `Bearer ${USER_KEY}`).send(body).expect(200);
    await request(testApp().app).post(ROUTE).set('x-api-key', USER_KEY).send(body).expect(200);
  });

  it.each([
    ['no body', undefined, 400, /Invalid request: \/ must be object/],
    ['no images', { image: 'abc' }, 400, /must have required property 'images'/],
    ['an empty list', { images: [] }, 400, /\/images must NOT have fewer than 1 items/],
    ['a non-string image', { images: [42] }, 400, /\/images\/0 must be string/],
    ['a threshold above 1', { images: ['abc'], additional_params: { face_iqa: { threshold: 1.2 } } }, 400, /threshold must be <= 1/],
    ['an unknown analytic', { images: ['abc'], additional_params: { face_occlussion: { threshold: 0.5 } } }, 400, /unknown property 'face_occlussion'/],
    ['bad base64', { images: ['not base64!'] }, 400, /^images\[0\] is not valid base64\.$/],
    ['text that is not an image', { images: [b64(Buffer.from('hello, this is not a picture'))] }, 400, /^images\[0\] is neither JPEG nor PNG\.$/],
  ])('refuses %s with 400 in the Nodeflux error shape', async (_name, body, status, message) => {
    expectError(await predict(body), status, message);
  });

  it('refuses bad JSON, more images than configured, and names the bad image in a list', async () => {
    const bad = await request(testApp().app).post(ROUTE).set('Authorization', USER_KEY).set('content-type', 'application/json').send('{"images": [');
    expectError(bad, 400, /not valid JSON/);
    const max = testApp().config.limits.maxImagesPerRequest;
    expectError(await predict({ images: Array.from({ length: max + 1 }, () => 'abc') }), 400, new RegExp(`at most ${max} images per request, got ${max + 1}`));
    const good = b64(await faceFreeJpeg());
    expectError(await predict({ images: [good, good, 'no!'] }), 400, /^images\[2\] is not valid base64\.$/);
  });

  it('refuses an image over the byte limit with 413, a truncated one and a decompression bomb with 400', async () => {
    const limit = testApp().config.limits.maxImageBytes;
    const oversized = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(limit)]);
    expectError(await predict({ images: [b64(oversized)] }), 413, /larger than 3145728 bytes/);
    const whole = await faceFreeJpeg();
    expectError(await predict({ images: [b64(whole.subarray(0, whole.length / 2))] }), 400, /^images\[0\]: The JPEG file is damaged or truncated\.$/);
    const bomb = await sharp({ create: { width: 8000, height: 5000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    expectError(await predict({ images: [b64(bomb)] }), 400, /8000x5000 pixels; the limit is 30000000/);
  });
});

describeWithFaces('POST /NFFS-FIQA/v1/predict on real faces', () => {
  const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);
  const features = (res: request.Response, i = 0) => res.body.job.result.result[i].face_occlusion.occluded_features as Record<string, boolean>;

  it('accepts a clean frontal portrait: both analytics filled, score to 4 decimals', async () => {
    const res = await predict({ images: [b64(await photo('deepface_img2.jpg'))] }).expect(200);
    const [result] = res.body.job.result.result;
    expect(res.body.message).toBe('Your Image accepted.');
    expect(result.accepted).toBe(true);
    expect(result.face_occlusion.occluded).toBe(false);
    expect(Object.keys(features(res)).sort()).toEqual(['cheek_left', 'cheek_right', 'chin', 'eye_left', 'eye_right', 'eyebrow_left', 'eyebrow_right', 'forehead', 'mouth', 'nose']);
    expect(Object.values(features(res)).every((v) => v === false)).toBe(true);
    expect(result.face_iqa.accepted).toBe(true);
    expect(result.face_iqa.iqa_score).toBeGreaterThanOrEqual(0.435);
    expect(String(result.face_iqa.iqa_score)).toMatch(/^0\.\d{1,4}$/);
  });

  it('rejects two faces, a masked face (lower-face regions occluded, no IQA) and a blurred face (IQA filled)', async () => {
    const portrait = await photo('deepface_img2.jpg');
    const two = await predict({ images: [b64(await photo('facerec_two_people.jpg'))] }).expect(200);
    expect(two.body.job.result.result).toEqual([{ accepted: false, face_iqa: {}, face_occlusion: {} }]);

    const masked = await predict({ images: [`data:image/jpeg;base64,${b64(await photo('maskdet_with_mask043.jpg'))}`] }).expect(200);
    expect(masked.body.message).toBe('Your Image not accepted. Face is Occluded.');
    expect(masked.body.job.result.result[0]).toMatchObject({ accepted: false, face_iqa: {}, face_occlusion: { occluded: true } });
    expect(features(masked)).toMatchObject({ mouth: true, eye_left: false, eye_right: false });

    const blurry = await predict({ images: [b64(await blurred(portrait, 8))] }).expect(200);
    expect(blurry.body.message).toBe('Your Image not accepted. Image quality not match.');
    expect(blurry.body.job.result.result[0]).toMatchObject({ accepted: false, face_occlusion: { occluded: false }, face_iqa: { accepted: false } });
  });

  it('judges several images in order and says which were not accepted', async () => {
    const portrait = await photo('deepface_img2.jpg');
    const both = await sideBySide(portrait, await photo('facenet_paul_rudd_1.jpg'));
    const res = await predict({ images: [b64(portrait), b64(both), b64(await blurred(portrait, 8))] }).expect(200);
    expect(res.body.job.result.result.map((r: { accepted: boolean }) => r.accepted)).toEqual([true, false, false]);
    expect(res.body.message).toBe('2 of 3 images not accepted: image 2 (Face not detected or Multiple faces detected.), image 3 (Image quality not match.)');
  });

  it('applies per-request thresholds', async () => {
    const portrait = b64(await photo('deepface_img2.jpg'));
    const blurry = b64(await blurred(await photo('deepface_img2.jpg'), 8));
    const strictDetection = await predict({ images: [portrait], additional_params: { face_detection: { threshold: 0.999 } } }).expect(200);
    expect(strictDetection.body.job.result.result[0]).toEqual({ accepted: false, face_iqa: {}, face_occlusion: {} });
    const lenientIqa = await predict({ images: [blurry], additional_params: { face_iqa: { threshold: 0 } } }).expect(200);
    expect(lenientIqa.body.job.result.result[0]).toMatchObject({ accepted: true, face_iqa: { accepted: true } });
    const strictOcclusion = await predict({ images: [portrait], additional_params: { face_occlusion: { threshold: 0 } } }).expect(200);
    expect(strictOcclusion.body.job.result.result[0].face_occlusion.occluded).toBe(true);
  });
});

describe('POST /NFFS-FIQA/v1/predict when the analysis fails inside', () => {
  it('answers 500 in the Nodeflux shape and logs the fault with the job id', async () => {
    const lines: string[] = [];
    const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-fault-')), FACEGATE_API_KEYS: USER_KEY });
    const models = await loadModels({ ...config.models, load: ['blazeface'] });
    const store = await openStore(config.store);
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const app = createApp({ config, analyzer: inProcess(models), store, keyring: createKeyring(config.auth, config.store.dataDir), api: loadApiDocument(), logger, scanner: createScanner(config, store.scans, logger) });
    // A released session makes the detector's run fail, as a crashed runtime would.
    await models.release();
    const res = await request(app).post(ROUTE).set('Authorization', USER_KEY).send({ images: [b64(await faceFreeJpeg())] });
    expectError(res, 500, /^The service failed to handle this request\.$/);
    expect(lines.join('')).toContain(res.body.job.id);
    await store.close();
  });
});
