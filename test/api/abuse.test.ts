import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import type { Config } from '../../src/config';
import type { Analyzer } from '../../src/pipeline/analyze';
import { scaledTo } from '../../eval/transforms';
import { OTHER_CLIENT_KEY, USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { gatedAnalyzer } from '../helpers/gated-analyzer';
import { faceFreeJpeg } from '../helpers/images';
import { parseAnswer, slowRequest } from '../helpers/slow-client';

const FIQA = '/NFFS-FIQA/v1/predict';
const testApp = useApp();
const servers: Server[] = [];

/** The test app with `limits` changed (and another analyzer, if given), listening on a free port. */
function serve(limits: Partial<Config['limits']>, analyzer?: Analyzer) {
  const { deps } = testApp();
  const config = { ...deps.config, limits: { ...deps.config.limits, ...limits } };
  const server = createApp({ ...deps, config, analyzer: analyzer ?? deps.analyzer }).listen(0);
  servers.push(server);
  return { server, port: (server.address() as AddressInfo).port };
}

afterEach(() => {
  for (const server of servers.splice(0)) {
    server.close();
    server.closeAllConnections();
  }
});

const json = (key: string) => ({ authorization: key, 'content-type': 'application/json' });
const fiqaBody = (images: Buffer[]) => JSON.stringify({ images: images.map((image) => image.toString('base64')) });
const waitFor = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
};
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Lets every analysis `gated` holds run until `answer` settles. */
async function releasingAll<T>(gated: ReturnType<typeof gatedAnalyzer>, answer: Promise<T>): Promise<T> {
  let settled = false;
  void answer.finally(() => (settled = true));
  while (!settled) {
    gated.release();
    await pause(20);
  }
  return answer;
}

describe('bodies are read before a turn is taken', () => {
  it('holds no analysis turn while a body is still arriving', async () => {
    const { server, port } = serve({ maxConcurrentAnalyses: 1, maxQueuedAnalyses: 0 });
    const slow = slowRequest(port, { path: FIQA, headers: json(USER_KEY), body: fiqaBody([await faceFreeJpeg()]) }, { intervalMs: 200 });
    await pause(300);
    const answer = await request(server).post(FIQA).set('Authorization', OTHER_CLIENT_KEY).send({ images: [(await faceFreeJpeg()).toString('base64')] });
    expect(answer.status).toBe(200);
    expect(answer.body.ok).toBe(true);
    slow.stop();
  });

  it('answers a body not read within bodyTimeoutMs with 408, in each family its own shape, and closes the connection', async () => {
    const { port } = serve({ bodyTimeoutMs: 500 });
    // Short bodies: without the deadline they would arrive in full within seconds.
    const image = 'A'.repeat(200);
    const fiqa = slowRequest(port, { path: FIQA, headers: json(USER_KEY), body: JSON.stringify({ images: [image] }) }, { intervalMs: 50 });
    const qitech = slowRequest(port, { path: '/face_recognition/image', headers: json(USER_KEY), body: JSON.stringify({ image }) }, { intervalMs: 50 });
    const boundary = 'slow-boundary';
    const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="cin_file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n${'x'.repeat(100)}\r\n--${boundary}--\r\n`;
    const enroll = slowRequest(
      port,
      { path: '/api/enroll?username=slow', headers: { authorization: USER_KEY, 'content-type': `multipart/form-data; boundary=${boundary}` }, body: multipart },
      { intervalMs: 50 },
    );

    const [nodeflux, qi, enrolled] = (await Promise.all([fiqa.answer, qitech.answer, enroll.answer])).map(parseAnswer);
    expect(nodeflux.status).toBe(408);
    expect(nodeflux.body).toMatchObject({ job: { result: null }, ok: false, message: 'The request body did not arrive within 500 ms.' });
    expect(qi.status).toBe(408);
    expect(qi.body).toEqual({ title: 'request_timeout', description: 'The request body did not arrive within 500 ms.' });
    expect(enrolled.status).toBe(408);
    expect(enrolled.body).toEqual({ trained: 'failed', EnrollStatus: 'REJECTED', DecisionReason: 'REQUEST_TIMEOUT' });
    for (const client of [fiqa, qitech, enroll]) expect(client.cutOff).toBe(true);
  });

  it('lets one client send at most maxConcurrentUploadsPerClient bodies at once (429 with Retry-After), without limiting other clients', async () => {
    const { server, port } = serve({ maxConcurrentUploadsPerClient: 2 });
    const body = fiqaBody([await faceFreeJpeg()]);
    const slow = [1, 2].map(() => slowRequest(port, { path: FIQA, headers: json(USER_KEY), body }, { intervalMs: 200 }));
    await pause(300);
    // The third is refused before its body is read, and its connection closed.
    const third = slowRequest(port, { path: FIQA, headers: json(USER_KEY), body }, { intervalMs: 200 });
    const refused = parseAnswer(await third.answer);
    expect(refused.status).toBe(429);
    expect(refused.headers).toMatch(/\r\nRetry-After: \d+\r\n/i);
    expect(refused.body).toMatchObject({ ok: false, message: expect.stringMatching(/already sending 2 request bodies/) });
    expect(third.cutOff).toBe(true);
    const qitech = await request(server).post('/face_recognition/image').set('Authorization', USER_KEY).send({ image: 'AAAA' });
    expect([qitech.status, qitech.body.title]).toEqual([429, 'too_many_requests']);
    const other = await request(server).post(FIQA).set('Authorization', OTHER_CLIENT_KEY).type('json').send(body);
    expect(other.status).toBe(200);
    for (const client of slow) client.stop();
    await pause(100);
    // The finished uploads no longer count.
    expect((await request(server).post(FIQA).set('Authorization', USER_KEY).type('json').send(body)).status).toBe(200);
  });
});

describe('clients take turns', () => {
  it("serves another client's request before the rest of one client's burst", async () => {
    const gated = gatedAnalyzer(testApp().deps.analyzer);
    const { server } = serve({ maxConcurrentAnalyses: 1, maxQueuedAnalyses: 10, maxQueueWaitMs: 60_000, clientPresenceMs: 0 }, gated.analyzer);
    const body = fiqaBody([await faceFreeJpeg()]);
    const finished: string[] = [];
    const send = (key: string, name: string) =>
      request(server)
        .post(FIQA)
        .set('Authorization', key)
        .type('json')
        .send(body)
        .then((answer) => {
          finished.push(`${name} ${answer.status}`);
        });
    const burst = ['a1', 'a2', 'a3', 'a4'].map((name) => send(USER_KEY, name));
    await waitFor(() => gated.held === 1);
    // The burst's other three requests reach the queue first.
    await pause(300);
    const other = send(OTHER_CLIENT_KEY, 'b1');
    await pause(300);
    while (finished.length < 5) {
      if (gated.held > 0) gated.release();
      await pause(20);
    }
    await Promise.all([...burst, other]);
    expect(finished).toEqual(['a1 200', 'b1 200', 'a2 200', 'a3 200', 'a4 200']);
  });
});

describe('the analysis of one request is bounded', () => {
  it('refuses with 413, from the headers and before any analysis, images whose pixels together exceed maxPixelsPerRequest', async () => {
    const gated = gatedAnalyzer(testApp().deps.analyzer);
    const { server } = serve({ maxPixelsPerRequest: 20_000_000 }, gated.analyzer);
    const large = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: '#808080' } }).png().toBuffer();
    const answer = await releasingAll(gated, request(server).post(FIQA).set('Authorization', USER_KEY).type('json').send(fiqaBody([large, large])).then((res) => res));
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ ok: false, message: 'The images have 24000000 pixels together; one request may carry at most 20000000.' });
    expect(gated.started).toBe(0);
  });

  it('stops analysing a request past analysisTimeoutMs: 503 with Retry-After, its remaining images not analysed', async () => {
    const gated = gatedAnalyzer(testApp().deps.analyzer);
    const { server } = serve({ analysisTimeoutMs: 100 }, gated.analyzer);
    const image = await faceFreeJpeg();
    const answer = request(server).post(FIQA).set('Authorization', USER_KEY).type('json').send(fiqaBody([image, image, image])).then((res) => res);
    await waitFor(() => gated.held === 1);
    // The first image takes longer than the whole request may.
    await pause(300);
    const res = await releasingAll(gated, answer);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toMatchObject({ ok: false, message: expect.stringMatching(/took longer than this service allows one request \(100 ms\)/) });
    expect(gated.started).toBe(1);
  });
});

describeWithFaces('acceptance: slow bodies and max-pixel requests from one client', () => {
  it("keep another client's FIQA requests answered 200", async () => {
    // The defaults: 2 turns, 8 waiting, 2 s of wait at most.
    const { server, port } = serve({});
    const portrait = (await scaledTo(readFileSync(facePath('deepface_img2.jpg')), 1024)).toString('base64');
    const maxPixels = await sharp({ create: { width: 5400, height: 5400, channels: 3, background: '#6a7b8c' } }).png().toBuffer();
    const { maxImagePixels, maxImagesPerRequest } = testApp().config.limits;
    expect(5400 * 5400).toBeLessThanOrEqual(maxImagePixels);

    // Three connections sending a FIQA body a byte every 200 ms.
    const slow = [1, 2, 3].map(() => slowRequest(port, { path: FIQA, headers: json(USER_KEY), body: JSON.stringify({ images: [portrait] }) }, { intervalMs: 200 }));
    // Requests of as many max-pixel PNGs as FIQA takes, and of two, again and again.
    let abusing = true;
    const abuseAnswers: number[] = [];
    const abuse = async (images: number) => {
      while (abusing) {
        const answer = await request(server).post(FIQA).set('Authorization', USER_KEY).type('json').send(fiqaBody(Array(images).fill(maxPixels)));
        abuseAnswers.push(answer.status);
      }
    };
    const abusers = [abuse(maxImagesPerRequest), abuse(2)];
    await pause(500);

    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await request(server).post(FIQA).set('Authorization', OTHER_CLIENT_KEY).send({ images: [portrait] });
      answers.push(answer.status);
      expect(answer.body.message).toBe('Your Image accepted.');
    }
    abusing = false;
    for (const client of slow) client.stop();
    await Promise.all(abusers);
    expect(answers).toEqual([200, 200, 200, 200, 200, 200]);
    // The abuse did reach the service: oversized requests refused (413), the rest analysed or turned away.
    expect(abuseAnswers).toContain(413);
  }, 180_000);
});
