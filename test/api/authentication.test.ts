import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { scaledTo } from '../../eval/transforms';
import { newImage } from '../../src/service/stored-image';
import { analysisOptions, PROJECT_ROOT } from '../../src/config';
import { embeddingSpace } from '../../src/models/manifest';
import { analyze } from '../../src/pipeline/analyze';
import { ADMIN_KEY, USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { pannedStill, syntheticMotionVideo, videoOfStill, zoomedStill } from '../helpers/video';

// faceres is loaded too, to make an enrollment as the previous release did.
const testApp = useApp((config) => config.models.load.push('faceres'));

function enroll(name: string, bytes: Buffer) {
  return request(testApp().app).post(`/api/enroll?username=${name}`).set('Authorization', USER_KEY).attach('cin_file', bytes, 'cin.jpg');
}
function authenticate(query: string, bytes?: Buffer, key = USER_KEY) {
  const req = request(testApp().app).post(`/api/authentificate${query}`).set('Authorization', key);
  return bytes ? req.attach('auth_video', bytes, 'probe.jpg') : req;
}
const reset = () => request(testApp().app).post('/api/reset').set('Authorization', ADMIN_KEY).expect(200);

describeWithFaces('authentication against replay, on real faces', () => {
  const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);

  it('refuses an enrolled image_key, the stored file re-sent, and a re-encoded copy, yet approves a new photo', async () => {
    await reset();
    const enrolled = await photo('deepface_img29.jpg');
    await enroll('matt', enrolled).expect(200);
    const key = (await request(testApp().app).get('/api/users/matt').set('Authorization', USER_KEY).expect(200)).body.image_keys[0] as string;

    const byKey = await authenticate(`?username=matt&image_key=${key}`).expect(200);
    expect(byKey.body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'REPLAYED_IMAGE' });

    const stored = (await request(testApp().app).get(`/face_recognition/image/${key}/file`).set('Authorization', USER_KEY).buffer(true).expect(200)).body as Buffer;
    expect((await authenticate('?username=matt', stored).expect(200)).body.DecisionReason).toBe('REPLAYED_IMAGE');

    const reencoded = await sharp(stored).resize({ width: 800 }).jpeg({ quality: 70 }).toBuffer();
    expect((await authenticate('?username=matt', reencoded).expect(200)).body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'REPLAYED_IMAGE' });

    const genuine = await authenticate('?username=matt', await photo('deepface_img31.jpg')).expect(200);
    expect(genuine.body).toMatchObject({ Decision: 'APPROVED', DecisionReason: 'AUTHENTIFICATION_SUCCESS' });
    expect(genuine.body.score).toBeGreaterThanOrEqual(testApp().config.recognition.threshold);
    expect(genuine.body.score).toBeLessThan(testApp().config.recognition.replaySimilarity);

    const impostor = await authenticate('?username=matt', await photo('deepface_img2.jpg')).expect(200);
    expect(impostor.body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'FACE_MISMATCH' });
  });

  it('shows a rejection\'s score only to the callers recognition.rejectionScores names', async () => {
    await reset();
    await enroll('matt', await photo('deepface_img29.jpg')).expect(200);
    const impostor = await photo('deepface_img2.jpg');
    const { recognition } = testApp().config;
    const before = recognition.rejectionScores;
    try {
      recognition.rejectionScores = 'admin';
      expect((await authenticate('?username=matt', impostor).expect(200)).body.score).toBeNull();
      const trusted = await authenticate('?username=matt', impostor, ADMIN_KEY).expect(200);
      expect(trusted.body.DecisionReason).toBe('FACE_MISMATCH');
      expect(trusted.body.score).toBeLessThan(recognition.threshold);
      recognition.rejectionScores = 'all';
      expect(typeof (await authenticate('?username=matt', impostor).expect(200)).body.score).toBe('number');
    } finally {
      recognition.rejectionScores = before;
    }
  });

  it('refuses a still looped, panned or zoomed into a video, and approves a clip where the face itself moves', async () => {
    await reset();
    await enroll('matt', await photo('deepface_img29.jpg')).expect(200);
    const other = await photo('deepface_img31.jpg');
    const video = (bytes: Buffer) => request(testApp().app).post('/api/authentificate?username=matt').set('Authorization', USER_KEY).attach('auth_video', bytes, 'probe.mp4');
    for (const attack of [videoOfStill(other, 3), pannedStill(other), zoomedStill(other)]) {
      expect((await video(await attack).expect(200)).body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'LIVENESS_FAILED' });
    }
    // Synthetic evidence: the photo warped along its mesh (a blink and a slight turn); docs/video-liveness.md says what that proves.
    const moving = await syntheticMotionVideo(other, testApp().models, analysisOptions(testApp().config));
    const approved = await video(moving).expect(200);
    expect(approved.body).toMatchObject({ Decision: 'APPROVED', DecisionReason: 'AUTHENTIFICATION_SUCCESS' });
  });

  it('asks for re-enrollment while a user\'s template is of another model, and templates:rebuild moves it', async () => {
    await reset();
    const { store, models, config } = testApp();
    // An enrollment as the previous release made it: a faceres template of the stored photo.
    const options = analysisOptions(config);
    const bytes = await photo('deepface_img29.jpg');
    const old = await analyze(bytes, models, { ...options, embedding: { model: 'faceres', mirror: false, regionScale: 1.5 } });
    const [face] = old.faces;
    const createdAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    // The same person under the same name for two clients: the rebuild moves each with its own client.
    for (const client of ['default', 'other']) {
      await store.users.enroll(client, { username: 'legacy', createdAt, image: { upload: newImage(bytes, old, face, createdAt) }, template: { model: 'faceres', modelVersion: face.embeddingVersion, embedding: face.embedding } }, async () => undefined);
    }

    const probe = await photo('deepface_img31.jpg');
    const before = await authenticate('?username=legacy', probe).expect(409);
    expect(before.body).toEqual({ score: null, Decision: 'REJECTED', DecisionReason: 'REENROLLMENT_REQUIRED' });

    // The command an operator runs, on the same database file (WAL lets both open it).
    const cli = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [join(PROJECT_ROOT, 'bin', 'facegate.js'), 'templates:rebuild'], { env: { ...process.env, FACEGATE_DATA_DIR: config.store.dataDir } }, (error, stdout) =>
        resolve({ code: error ? Number(error.code) : 0, stdout }),
      );
    });
    expect(cli).toEqual({ code: 0, stdout: expect.stringContaining('2 users moved to fr-feature') });
    for (const client of ['default', 'other']) expect((await store.users.metadata(client, 'legacy'))?.templates.map((t) => t.model)).toEqual(['fr-feature']);
    expect(await store.users.outdated(embeddingSpace(config.models.dir, options.embedding.model))).toEqual([]);

    const after = await authenticate('?username=legacy', probe).expect(200);
    expect(after.body).toMatchObject({ Decision: 'APPROVED', DecisionReason: 'AUTHENTIFICATION_SUCCESS' });
  });
});
