import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { scaledTo } from '../../eval/transforms';
import { createApp } from '../../src/api/app';
import { analysisOptions } from '../../src/config';
import { embeddingSpace } from '../../src/models/manifest';
import { analyze } from '../../src/pipeline/analyze';
import { openStore } from '../../src/store';
import { Sealer } from '../../src/store/sealer';
import { ADMIN_KEY, USER_KEY, useApp } from '../helpers/app';
import { TEST_ENCRYPTION_KEY } from '../helpers/encryption';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';
import { videoOfStill } from '../helpers/video';
import { sqliteDb } from '../helpers/sqlite';

const testApp = useApp((config) => {
  // The concurrency test sends 20 requests at once: all of them wait for a turn instead of 503.
  config.limits.maxQueuedAnalyses = 64;
  config.limits.maxQueueWaitMs = 120_000;
});
const REJECTED = { trained: 'failed', EnrollStatus: 'REJECTED' };
const APPROVED = { trained: 'success', EnrollStatus: 'APPROVED', DecisionReason: 'ENROLLED_AS_USER' };

function enroll(query: string, file?: { bytes: Buffer; name?: string }, app = testApp().app) {
  const req = request(app).post(`/api/enroll${query}`).set('Authorization', USER_KEY);
  return file ? req.attach('cin_file', file.bytes, file.name ?? 'cin.jpg') : req;
}
function authenticate(query: string, file?: { bytes: Buffer; name?: string }, app = testApp().app, path = '/api/authentificate') {
  const req = request(app).post(`${path}${query}`).set('Authorization', USER_KEY);
  return file ? req.attach('auth_video', file.bytes, file.name ?? 'probe.jpg') : req;
}

describe('enroll and authenticate: requests without real faces', () => {
  it.each([
    ['no username', '', 'MISSING_USERNAME', 400],
    ['an empty username', '?username=', 'EMPTY_USERNAME', 400],
    ['a blank username', '?username=%20%20', 'EMPTY_USERNAME', 400],
    ['a username with spaces', '?username=two%20words', 'INVALID_USERNAME', 400],
    ['a username given twice', '?username=a&username=b', 'INVALID_USERNAME', 400],
  ])('enroll refuses %s: %s', async (_name, query, reason, status) => {
    const res = await enroll(query, { bytes: await faceFreeJpeg() }).expect(status);
    expect(res.body).toEqual({ ...REJECTED, DecisionReason: reason });
  });

  it('enroll refuses a missing, empty, non-image or doubly given photo, and unknown or malformed image keys', async () => {
    const cases: [request.Test, string, number][] = [
      [enroll('?username=ann'), 'MISSING_CIN_FILE', 400],
      [enroll('?username=ann', { bytes: Buffer.alloc(0) }), 'EMPTY_CIN_FILE', 400],
      [enroll('?username=ann', { bytes: Buffer.from('not a picture at all'), name: 'cin.txt' }), 'INVALID_IMAGE', 400],
      [enroll('?username=ann&image_key=00000000-0000-4000-8000-000000000000', { bytes: await faceFreeJpeg() }), 'INVALID_REQUEST', 400],
      [enroll('?username=ann&image_key=00000000-0000-4000-8000-000000000000'), 'UNKNOWN_IMAGE_KEY', 404],
      [enroll('?username=ann&image_key=nope'), 'INVALID_IMAGE_KEY', 400],
      [request(testApp().app).post('/api/enroll?username=ann').set('Authorization', USER_KEY).attach('photo', await faceFreeJpeg(), 'x.jpg'), 'MISSING_CIN_FILE', 400],
      [enroll('?username=ann', { bytes: await faceFreeJpeg() }), 'NO_FACE_DETECTED', 422],
    ];
    for (const [req, reason, status] of cases) {
      const res = await req;
      expect({ status: res.status, body: res.body }).toEqual({ status, body: { ...REJECTED, DecisionReason: reason } });
    }
    expect(await testApp().store.users.exists('default', 'ann')).toBe(false);
  });

  it('authenticate refuses missing input, unknown users and media it cannot read, under both spellings', async () => {
    const mp4 = await videoOfStill(await faceFreeJpeg(), 1);
    const cases: [request.Test, string, number][] = [
      [authenticate('', { bytes: await faceFreeJpeg() }), 'MISSING_USERNAME', 400],
      [authenticate('?username='), 'EMPTY_USERNAME', 400],
      [authenticate('?username=ghost'), 'MISSING_AUTH_VIDEO', 400],
      [authenticate('?username=ghost', { bytes: Buffer.alloc(0) }), 'EMPTY_AUTH_VIDEO', 400],
      [authenticate('?username=ghost', { bytes: await faceFreeJpeg() }), 'UNKNOWN_USER', 404],
      [authenticate('?username=ghost', { bytes: mp4, name: 'probe.mp4' }, testApp().app, '/api/authenticate'), 'UNKNOWN_USER', 404],
    ];
    for (const [req, reason, status] of cases) {
      const res = await req;
      expect({ status: res.status, body: res.body }).toEqual({ status, body: { score: null, Decision: 'REJECTED', DecisionReason: reason } });
    }
  });

  it('asks for keys: none → 401; reset only with an admin key', async () => {
    const res = await request(testApp().app).post('/api/enroll?username=ann').attach('cin_file', await faceFreeJpeg(), 'a.jpg').expect(401);
    expect(res.body).toEqual({ ...REJECTED, DecisionReason: 'UNAUTHORIZED' });
    await request(testApp().app).post('/api/reset').expect(401);
    expect((await request(testApp().app).post('/api/reset').set('Authorization', USER_KEY).expect(403)).body).toEqual({ code: 403, msg: 'ERROR_DETECTED : This route needs an admin key.' });
    expect((await request(testApp().app).post('/api/reset').set('Authorization', ADMIN_KEY).expect(200)).body).toEqual({ code: 200, msg: 'DONE' });
    await request(testApp().app).get('/api/users/ann').expect(401);
    expect((await request(testApp().app).get('/api/users/ann').set('Authorization', USER_KEY).expect(404)).body).toEqual({ code: 404, msg: 'UNKNOWN_USER' });
    await request(testApp().app).delete('/api/users/ann').set('Authorization', USER_KEY).expect(404);
  });
});

describe('reset when the database fails', () => {
  it('answers 500 ERROR_DETECTED and leaves the cause in the log, not in the answer', async () => {
    const closed = await openStore(testApp().config.store);
    await closed.close();
    const res = await request(createApp({ ...testApp().deps, store: closed })).post('/api/reset').set('Authorization', ADMIN_KEY).expect(500);
    expect(res.body).toEqual({ code: 500, msg: 'ERROR_DETECTED : the database could not be reset' });
  });
});

describeWithFaces('enroll and authenticate on real faces', () => {
  const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);
  const reset = () => request(testApp().app).post('/api/reset').set('Authorization', ADMIN_KEY).expect(200);

  it('enrolls A, approves another photo of A, rejects B and still videos, and keeps names and faces unique', async () => {
    await reset();
    expect((await enroll('?username=matt', { bytes: await photo('deepface_img29.jpg') }).expect(200)).body).toEqual(APPROVED);

    const same = await authenticate('?username=matt', { bytes: await photo('deepface_img31.jpg') }).expect(200);
    expect(same.body).toMatchObject({ Decision: 'APPROVED', DecisionReason: 'AUTHENTIFICATION_SUCCESS' });
    expect(same.body.score).toBeGreaterThanOrEqual(testApp().config.recognition.threshold);
    expect(same.body.score).toBeLessThanOrEqual(1);

    const other = await authenticate('?username=matt', { bytes: await photo('deepface_img2.jpg') }).expect(200);
    // A rejection carries no score (config recognition.rejectionScores), so nobody can climb towards the threshold.
    expect(other.body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'FACE_MISMATCH' });

    // A still made into a video shows no motion of the face: refused whoever it shows (test/api/authentication.test.ts has the rest).
    const video = await authenticate('?username=matt', { bytes: await videoOfStill(await photo('deepface_img31.jpg')), name: 'probe.mp4' }, testApp().app, '/api/authenticate').expect(200);
    expect(video.body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'LIVENESS_FAILED' });
    const webm = await authenticate('?username=matt', { bytes: await videoOfStill(await photo('deepface_img2.jpg'), 2, 'webm'), name: 'probe.webm' }).expect(200);
    expect(webm.body.DecisionReason).toBe('LIVENESS_FAILED');
    const truncated = (await videoOfStill(await photo('deepface_img31.jpg'))).subarray(0, 3000);
    expect((await authenticate('?username=matt', { bytes: truncated, name: 'probe.mp4' }).expect(400)).body.DecisionReason).toBe('INVALID_MEDIA');

    expect((await enroll('?username=matt', { bytes: await photo('deepface_img30.jpg') }).expect(409)).body.DecisionReason).toBe('DUPLICATE_USERNAME');
    expect((await enroll('?username=matt_again', { bytes: await photo('deepface_img29.jpg') }).expect(409)).body.DecisionReason).toBe('FACE_ALREADY_ENROLLED');
    expect(await testApp().store.users.exists('default', 'matt_again')).toBe(false);

    const user = await request(testApp().app).get('/api/users/matt').set('Authorization', USER_KEY).expect(200);
    expect(user.body).toEqual({
      username: 'matt',
      created_at: expect.stringMatching(/Z$/),
      templates: [{ model: 'fr-feature', model_version: expect.stringContaining('faceplugin-face-recognition-js@0.0.1#'), created_at: expect.any(String) }],
      image_keys: [expect.stringMatching(/^[0-9a-f-]{36}$/)],
    });
  });

  it('rejects occluded faces and several faces, and enrolls the dominant face of an ID-card-like picture', async () => {
    await reset();
    expect((await enroll('?username=masked', { bytes: await photo('maskdet_with_mask043.jpg') }).expect(422)).body.DecisionReason).toBe('FACE_OCCLUDED');
    expect((await enroll('?username=two', { bytes: await photo('facerec_two_people.jpg') }).expect(422)).body.DecisionReason).toBe('MULTIPLE_FACES_DETECTED');
    // An ID card: the holder's portrait small on the left, a ghost copy a third of its size on the right.
    const portrait = await sharp(await photo('facenet_paul_rudd_1.jpg')).resize({ height: 300 }).toBuffer();
    const ghost = await sharp(portrait).resize({ height: 100 }).toBuffer();
    const card = await sharp({ create: { width: 860, height: 540, channels: 3, background: '#c9d6e3' } })
      .composite([{ input: portrait, left: 40, top: 120 }, { input: ghost, left: 700, top: 380 }])
      .jpeg()
      .toBuffer();
    const found = await analyze(card, testApp().models, analysisOptions(testApp().config));
    expect(found.faces.map((f) => f.detection.confidence >= testApp().config.gate.fiqa.detection)).toEqual([true, true]);
    expect((await enroll('?username=holder', { bytes: card }).expect(200)).body).toEqual(APPROVED);
    // The card's portrait is this very photo: presenting it again is a replay, not a new capture.
    expect((await authenticate('?username=holder', { bytes: await photo('facenet_paul_rudd_1.jpg') }).expect(200)).body.DecisionReason).toBe('REPLAYED_IMAGE');
  });

  it('enrolls and authenticates by image_key, after which the crop is served', async () => {
    await reset();
    const upload = async (file: string) => (await request(testApp().app).post('/face_recognition/image').set('Authorization', USER_KEY).send({ image: (await photo(file)).toString('base64') }).expect(201)).body.image_key as string;
    const enrolled = await upload('facenet_paul_rudd_1.jpg');
    const crop = (key: string) => request(testApp().app).get(`/face_recognition/image/${key}/cropped_file`).set('Authorization', USER_KEY);
    await crop(enrolled).expect(404);
    expect((await enroll(`?username=paul&image_key=${enrolled}`).expect(200)).body).toEqual(APPROVED);
    expect((await crop(enrolled).expect(200)).headers['content-type']).toBe('image/jpeg');
    expect((await enroll(`?username=paul2&image_key=${enrolled}`).expect(409)).body.DecisionReason).toBe('IMAGE_KEY_TAKEN');

    const probe = await upload('deepface_img30.jpg');
    const res = await authenticate(`?username=paul&image_key=${probe}`).expect(200);
    expect(res.body.DecisionReason).toBe('FACE_MISMATCH');
    await crop(probe).expect(200);
  });

  it('deletes one person, then resets everything', async () => {
    await reset();
    await enroll('?username=matt', { bytes: await photo('deepface_img29.jpg') }).expect(200);
    await enroll('?username=angelina', { bytes: await photo('deepface_img2.jpg') }).expect(200);
    const key = (await request(testApp().app).get('/api/users/matt').set('Authorization', USER_KEY)).body.image_keys[0] as string;
    expect((await request(testApp().app).delete('/api/users/matt').set('Authorization', USER_KEY).expect(200)).body).toEqual({ code: 200, msg: 'DELETED' });
    await request(testApp().app).get(`/face_recognition/image/${key}`).set('Authorization', USER_KEY).expect(404);
    expect((await authenticate('?username=matt', { bytes: await photo('deepface_img31.jpg') }).expect(404)).body.DecisionReason).toBe('UNKNOWN_USER');
    expect(await testApp().store.users.exists('default', 'angelina')).toBe(true);
    await reset();
    const count = (table: string) => (sqliteDb(testApp().store).prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect([count('users'), count('templates'), count('images')]).toEqual([0, 0, 0]);
  });

  it('takes 20 enrollments and 20 authentications at once without losing one', async () => {
    await reset();
    const { app } = testApp();
    const original = testApp().config.recognition.duplicateSearch;
    testApp().config.recognition.duplicateSearch = false;
    try {
      const bytes = await photo('deepface_img29.jpg');
      const probe = await photo('deepface_img31.jpg');
      const names = Array.from({ length: 20 }, (_, i) => `user${i}`);
      const enrolled = await Promise.all(names.map((n) => enroll(`?username=${n}`, { bytes }, app)));
      expect(enrolled.map((r) => r.status)).toEqual(names.map(() => 200));
      const authenticated = await Promise.all(names.map((n) => authenticate(`?username=${n}`, { bytes: probe }, app)));
      expect(authenticated.map((r) => r.body.DecisionReason)).toEqual(names.map(() => 'AUTHENTIFICATION_SUCCESS'));
      expect(await Promise.all(names.map((n) => testApp().store.users.exists('default', n)))).toEqual(names.map(() => true));
    } finally {
      testApp().config.recognition.duplicateSearch = original;
    }
  });
});

describeWithFaces('encryption at rest', () => {
  it('stores no readable image or template bytes in the database files, and reads them back transparently', async () => {
    const { deps, config } = testApp();
    const store = await openStore({ ...config.store, dataDir: join(config.store.dataDir, 'encrypted') }, Sealer.fromKeyText(TEST_ENCRYPTION_KEY));
    const app = createApp({ ...deps, store });
    const bytes = await scaledTo(readFileSync(facePath('deepface_img29.jpg')), 1024);
    await enroll('?username=matt', { bytes }, app).expect(200);
    expect((await authenticate('?username=matt', { bytes: await scaledTo(readFileSync(facePath('deepface_img31.jpg')), 1024) }, app).expect(200)).body.Decision).toBe('APPROVED');
    const [template] = await store.users.templatesOf('default', 'matt', embeddingSpace(config.models.dir, config.pipeline.embedding.model));
    const files = ['facegate.db', 'facegate.db-wal'].map((f) => {
      try {
        return readFileSync(join(config.store.dataDir, 'encrypted', f));
      } catch {
        return Buffer.alloc(0);
      }
    });
    const raw = Buffer.concat(files);
    expect(raw.includes(bytes.subarray(0, 64))).toBe(false);
    expect(raw.includes(Buffer.from([0xff, 0xd8, 0xff]))).toBe(false);
    expect(raw.includes(Buffer.from(template.buffer, template.byteOffset, 64))).toBe(false);
    const key = (await request(app).get('/api/users/matt').set('Authorization', USER_KEY)).body.image_keys[0] as string;
    const file = await request(app).get(`/face_recognition/image/${key}/file`).set('Authorization', USER_KEY).buffer(true).expect(200);
    expect(Buffer.compare(file.body as Buffer, bytes)).toBe(0);
    await store.close();
  });
});
