import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import request from 'supertest';
import { scaledTo } from '../../eval/transforms';
import { createApp } from '../../src/api/app';
import { loadApiDocument } from '../../src/api/openapi';
import { ISO_COMPONENTS } from '../../src/gate/iso29794';
import { USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { gatedAnalyzer } from '../helpers/gated-analyzer';
import { faceFreeJpeg } from '../helpers/images';

const ROUTE = '/quality/iso29794-5';
const testApp = useApp();
const api = loadApiDocument();
const validReport = api.validator('IsoQualityReport');
const NOTE_NAMES = ISO_COMPONENTS.map(([name]) => name);

const postJson = (body: unknown, key: string | null = USER_KEY) => {
  const req = request(testApp().app).post(ROUTE);
  if (key) req.set('Authorization', key);
  return req.send(body as object);
};

describe('POST /quality/iso29794-5 without real faces', () => {
  it('needs a key: 401 in the scan family shape', async () => {
    const res = await postJson({ image: (await faceFreeJpeg()).toString('base64') }, null).expect(401);
    expect(res.body).toEqual({ error: 'unauthorized', detail: 'An API key is required: send it in the Authorization header.' });
  });

  it('answers a face-free photo with face null and every component failing to assess (scalar -1)', async () => {
    const res = await postJson({ image: (await faceFreeJpeg()).toString('base64') }).expect(200);
    expect(validReport(res.body)).toBe(true);
    expect(res.body.face).toBeNull();
    expect(res.body.components.map((c: { name: string }) => c.name)).toEqual(NOTE_NAMES);
    for (const c of res.body.components) expect(c).toMatchObject({ native: null, scalar: -1, code: 'failure_to_assess', reason: 'No face was found.' });
  });

  it.each([
    ['no body', 400, 'invalid_request', undefined],
    ['not base64', 400, 'invalid_image', { image: '***' }],
    ['not an image', 400, 'invalid_image', { image: Buffer.from('hello world, not a picture').toString('base64') }],
    ['an unknown field', 400, 'invalid_request', { image: 'AAAA', extra: 1 }],
  ])('refuses %s with %i %s', async (_what, status, error, body) => {
    const res = await postJson(body ?? {}).expect(status);
    expect(res.body).toMatchObject({ error, detail: expect.any(String) });
  });

  it('refuses a multipart body without a file part named image', async () => {
    const res = await request(testApp().app)
      .post(ROUTE)
      .set('Authorization', USER_KEY)
      .attach('photo', await faceFreeJpeg(), 'face.jpg')
      .expect(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', detail: expect.stringMatching(/file part named image/) });
  });

  it('refuses an image above the byte limit with 413 before analysing it', async () => {
    const gated = gatedAnalyzer(testApp().deps.analyzer);
    const { deps } = testApp();
    const config = { ...deps.config, limits: { ...deps.config.limits, maxImageBytes: 1000 } };
    const app = createApp({ ...deps, config, analyzer: gated.analyzer });
    const res = await request(app).post(ROUTE).set('Authorization', USER_KEY).attach('image', await faceFreeJpeg(), 'face.jpg').expect(413);
    expect(res.body).toMatchObject({ error: 'image_too_large' });
    expect(gated.started).toBe(0);
  });

  it('waits for a turn of the admission queue: with the one turn taken and no room to wait, 503 with Retry-After', async () => {
    const gated = gatedAnalyzer(testApp().deps.analyzer);
    const { deps } = testApp();
    const config = { ...deps.config, limits: { ...deps.config.limits, maxConcurrentAnalyses: 1, maxQueuedAnalyses: 0 } };
    const server: Server = createApp({ ...deps, config, analyzer: gated.analyzer }).listen(0);
    try {
      const image = (await faceFreeJpeg()).toString('base64');
      const first = request(server).post(ROUTE).set('Authorization', USER_KEY).send({ image }).then((res) => res, (error: Error) => error);
      while (gated.held === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      let second: request.Response | undefined;
      const secondDone = request(server).post(ROUTE).set('Authorization', USER_KEY).send({ image }).then((res) => (second = res), () => undefined);
      // Without the queue the second request would reach the analyzer and be held there too.
      while (!second && gated.held < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(gated.held).toBe(1);
      await secondDone;
      if (!second) throw new Error('no answer');
      expect(second.status).toBe(503);
      expect(second.headers['retry-after']).toBeDefined();
      expect(second.body).toMatchObject({ error: 'overloaded' });
      gated.release();
      expect(await first).toMatchObject({ status: 200 });
    } finally {
      while (gated.held > 0) gated.release();
      server.close();
      server.closeAllConnections();
    }
  });
});

describeWithFaces('POST /quality/iso29794-5 on a real face', () => {
  it('answers every component of the note, named and numbered as OFIQ, JSON and multipart alike', async () => {
    const photo = await scaledTo(readFileSync(facePath('deepface_img29.jpg')), 800);
    const viaJson = await postJson({ image: photo.toString('base64') }).expect(200);
    const viaMultipart = await request(testApp().app).post(ROUTE).set('Authorization', USER_KEY).attach('image', photo, 'face.jpg').expect(200);
    expect(validReport(viaJson.body)).toBe(true);
    expect(viaMultipart.body).toEqual(viaJson.body);
    const { face, components } = viaJson.body;
    expect(face.box.width).toBeGreaterThan(50);
    expect(components.map((c: { name: string; id: string }) => [c.name, c.id])).toEqual(ISO_COMPONENTS.map(([name, id]) => [name, `0x${id.toString(16).toUpperCase()}`]));
    const byName = Object.fromEntries(components.map((c: { name: string }) => [c.name, c]));
    // A clean frontal portrait: assessed, and good on what it is good at.
    for (const name of NOTE_NAMES.filter((n) => n !== 'NoHeadCoverings')) expect(byName[name]).toMatchObject({ code: 'success', native: expect.any(Number) });
    expect(byName.NoHeadCoverings).toMatchObject({ code: 'failure_to_assess', scalar: -1, reason: expect.stringMatching(/segmentation/) });
    for (const name of ['UnifiedQualityScore', 'Sharpness', 'CompressionArtifacts', 'HeadPoseYaw', 'HeadPoseRoll', 'EyesOpen', 'MouthClosed', 'SingleFacePresent', 'EyesVisible']) {
      expect({ name, scalar: byName[name].scalar }).toEqual({ name, scalar: expect.any(Number) });
      expect(byName[name].scalar).toBeGreaterThanOrEqual(80);
    }
  });
});
