import express from 'express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { errorHandler, HttpError, notFound } from '../../src/api/errors';
import { loadApiDocument } from '../../src/api/openapi';
import { loadConfig } from '../../src/config';
import { createKeyring } from '../../src/config/api-keys';
import { loadModels, type ModelRegistry } from '../../src/models/registry';
import { AnalysisPool } from '../../src/pipeline/analysis-pool';
import { inProcess } from '../../src/pipeline/analysis-pool';
import { createScanner } from '../../src/scan/scanner';
import { openStore, type Store } from '../../src/store';
import { gatedAnalyzer } from '../helpers/gated-analyzer';

const KEY = 'app-test-key-0123456789';
const logger = pino({ level: 'silent' });
const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-app-')), FACEGATE_THREADS: '1', FACEGATE_API_KEYS: KEY });
const keyring = createKeyring(config.auth, config.store.dataDir);
const api = loadApiDocument();
let models: ModelRegistry;

beforeAll(async () => {
  models = await loadModels(config.models);
});
afterAll(async () => {
  await models.release();
});

async function appWith(given?: Store) {
  const store = given ?? (await openStore(config.store));
  return createApp({ config, analyzer: inProcess(models), store, keyring, api, logger, scanner: createScanner(config, store.scans, logger) });
}

describe('createApp', () => {
  it('answers /health and /ready with every configured model loaded and the database writable', async () => {
    const app = await appWith();
    await request(app).get('/health').expect(200, { status: 'ok' });
    const ready = await request(app).get('/ready').expect(200);
    expect(ready.body).toEqual({ status: 'ready', models: { loaded: config.models.load, missing: [] }, database: 'writable' });
  });

  it('is not ready when the database cannot be written', async () => {
    const store = await openStore(config.store);
    const app = await appWith(store);
    await store.close();
    const ready = await request(app).get('/ready').expect(503);
    expect(ready.body.database).toBe('not_writable');
  });

  it('sends helmet security headers and no x-powered-by', async () => {
    const res = await request(await appWith()).get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('answers unknown routes with a JSON 404', async () => {
    await request(await appWith()).get('/nowhere').expect(404, { error: 'not_found', message: 'No route for GET /nowhere.' });
  });

  it('serves /openapi.yaml and /docs without a key', async () => {
    const app = await appWith();
    const document = await request(app).get('/openapi.yaml').expect(200);
    expect(document.headers['content-type']).toContain('application/yaml');
    expect(document.text).toContain('/NFFS-FIQA/v1/predict');
    const docs = await request(app).get('/docs/').expect(200);
    expect(docs.text).toContain('swagger-ui');
  });
});

describe('the analysis routes at capacity', () => {
  it('answer 503 with Retry-After at once, each family in its own shape, while another request holds the only turn', async () => {
    const busyConfig = { ...config, limits: { ...config.limits, maxConcurrentAnalyses: 1, maxQueuedAnalyses: 0 } };
    const store = await openStore(config.store);
    const gated = gatedAnalyzer(inProcess(models));
    const app = createApp({ config: busyConfig, analyzer: gated.analyzer, store, keyring, api, logger, scanner: createScanner(config, store.scans, logger) });
    const image = (await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer()).toString('base64');
    const key = (r: request.Test) => r.set('Authorization', KEY);
    // A request whose analysis the test holds keeps the only turn.
    const holder = key(request(app).post('/NFFS-FIQA/v1/predict')).send({ images: [image] }).then((answer) => answer);
    while (gated.held === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    const fiqa = await key(request(app).post('/NFFS-FIQA/v1/predict')).send({ images: ['AAAA'] }).expect(503);
    expect(fiqa.headers['retry-after']).toBeDefined();
    expect(fiqa.body).toMatchObject({ ok: false, message: expect.stringMatching(/at capacity/) });
    const qitech = await key(request(app).post('/face_recognition/image')).send({ image: 'AAAA' }).expect(503);
    expect(qitech.body).toEqual({ title: 'service_unavailable', description: expect.stringMatching(/at capacity/) });
    const enroll = await key(request(app).post('/api/enroll?username=busy')).attach('cin_file', Buffer.from('x'), 'a.jpg').expect(503);
    expect(enroll.body).toMatchObject({ DecisionReason: 'SERVICE_BUSY' });
    // Routes that analyse nothing are not queued.
    await key(request(app).get('/face_recognition/image/00000000-0000-4000-8000-000000000000')).expect(404);

    gated.release();
    expect((await holder).status).toBe(200);
    await key(request(app).post('/NFFS-FIQA/v1/predict')).send({ images: ['AAAA'] }).expect(400);
    await store.close();
  });
});

describe('shutdown', () => {
  it('answers 503, each family in its own shape, for work the closing analysis pool no longer takes', async () => {
    const pool = new AnalysisPool({ models: config.models }, { size: 1, idleMs: null, youngGenerationMb: config.models.workerYoungGenerationMb });
    await pool.close();
    const store = await openStore(config.store);
    const app = createApp({ config, analyzer: pool, store, keyring, api, logger, scanner: createScanner(config, store.scans, logger) });
    const image = (await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).jpeg().toBuffer()).toString('base64');
    const key = (r: request.Test) => r.set('Authorization', KEY);

    const fiqa = await key(request(app).post('/NFFS-FIQA/v1/predict')).send({ images: [image] }).expect(503);
    expect(fiqa.body).toMatchObject({ ok: false, message: expect.stringMatching(/shutting down/) });
    const qitech = await key(request(app).post('/face_recognition/image')).send({ image }).expect(503);
    expect(qitech.body).toEqual({ title: 'service_unavailable', description: expect.stringMatching(/shutting down/) });
    const enroll = await key(request(app).post('/api/enroll?username=late')).attach('cin_file', Buffer.from(image, 'base64'), 'a.jpg').expect(503);
    expect(enroll.body).toMatchObject({ DecisionReason: 'SERVICE_BUSY' });
    await store.close();
  });
});

describe('CORS and rate limits', () => {
  const UNKNOWN_IMAGE = '/face_recognition/image/00000000-0000-4000-8000-000000000000';
  const OTHER_KEY = 'other-app-test-key-0123456789';
  const variant = async (adjust: (c: typeof config) => void) => {
    const changed = structuredClone(config);
    adjust(changed);
    const store = await openStore(config.store);
    const twoKeys = createKeyring({ ...config.auth, apiKeys: [KEY, OTHER_KEY] }, config.store.dataDir);
    return createApp({ config: changed, analyzer: inProcess(models), store, keyring: twoKeys, api, logger, scanner: createScanner(config, store.scans, logger) });
  };

  it('sends neither HSTS, upgrade-insecure-requests nor COOP by default (plain HTTP), and all three with server.https', async () => {
    const plain = await request(await appWith()).get('/health').expect(200);
    expect(plain.headers['strict-transport-security']).toBeUndefined();
    expect(plain.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(plain.headers['cross-origin-opener-policy']).toBeUndefined();
    const https = await request(await variant((c) => (c.server.https = true))).get('/health').expect(200);
    expect(https.headers['strict-transport-security']).toMatch(/^max-age=\d+; includeSubDomains$/);
    expect(https.headers['content-security-policy']).toContain('upgrade-insecure-requests');
    expect(https.headers['cross-origin-opener-policy']).toBe('same-origin');
  });

  it('sends no CORS header by default, and only to allowed origins when configured', async () => {
    const closed = await request(await appWith()).get('/health').set('Origin', 'https://app.example').expect(200);
    expect(closed.headers['access-control-allow-origin']).toBeUndefined();
    const open = await variant((c) => (c.server.corsOrigins = ['https://app.example']));
    const allowed = await request(open).get('/health').set('Origin', 'https://app.example').expect(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    const other = await request(open).get('/health').set('Origin', 'https://evil.example').expect(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 429 with Retry-After past the per-key limit, in the shape of the family called, per key; health checks are not limited', async () => {
    const app = await variant((c) => (c.limits.requestsPerKeyPerMinute = 3));
    for (let i = 0; i < 3; i++) await request(app).get(UNKNOWN_IMAGE).set('Authorization', KEY).expect(404);
    await request(app).get('/health').expect(200);
    const limited = await request(app).get(UNKNOWN_IMAGE).set('Authorization', KEY).expect(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.body).toEqual({ title: 'too_many_requests', description: expect.stringMatching(/More than 3 requests in a minute/) });
    const fiqa = await request(app).post('/NFFS-FIQA/v1/predict').set('Authorization', KEY).send({ images: ['AAAA'] }).expect(429);
    expect(fiqa.body).toMatchObject({ ok: false, job: { result: null } });
    await request(app).get(UNKNOWN_IMAGE).set('Authorization', OTHER_KEY).expect(404);
  });

  it('counts wrong keys under the client address, so that made-up keys share one budget', async () => {
    const app = await variant((c) => (c.limits.requestsPerKeyPerMinute = 2));
    await request(app).get(UNKNOWN_IMAGE).set('Authorization', 'made-up-key-number-one-000').expect(401);
    await request(app).get(UNKNOWN_IMAGE).set('Authorization', 'made-up-key-number-two-000').expect(401);
    await request(app).get(UNKNOWN_IMAGE).set('Authorization', 'made-up-key-number-three-0').expect(429);
    await request(app).get(UNKNOWN_IMAGE).set('Authorization', KEY).expect(404);
  });
});

describe('errorHandler', () => {
  it('hides the stack, message and paths of internal faults, and passes client errors through', async () => {
    const app = express();
    app.use(pinoHttp({ logger }));
    app.get('/fault', () => {
      throw new Error(`SQLITE_CORRUPT at ${__filename}`);
    });
    app.get('/client', () => {
      throw new HttpError(422, 'unprocessable', 'That will not do.');
    });
    app.use(notFound);
    app.use(errorHandler);
    const fault = await request(app).get('/fault').expect(500);
    expect(fault.body).toEqual({ error: 'internal_error', message: 'The service failed to handle this request.' });
    expect(fault.text).not.toContain('SQLITE');
    expect(fault.text).not.toContain(__filename);
    await request(app).get('/client').expect(422, { error: 'unprocessable', message: 'That will not do.' });
  });
});
