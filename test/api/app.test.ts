import express from 'express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { pinoHttp } from 'pino-http';
import request from 'supertest';
import { createApp, jsonBodyLimit } from '../../src/api/app';
import { errorHandler, HttpError, notFound } from '../../src/api/errors';
import { loadConfig } from '../../src/config';
import { loadModels, type ModelRegistry } from '../../src/models/registry';
import { Store } from '../../src/store';

const logger = pino({ level: 'silent' });
const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-app-')), FACEGATE_THREADS: '1' });
let models: ModelRegistry;

beforeAll(async () => {
  models = await loadModels(config.models);
});
afterAll(async () => {
  await models.release();
});

function appWith(store = Store.open(config.store)) {
  return createApp({ config, models, store, logger });
}

describe('createApp', () => {
  it('answers /health and /ready with every configured model loaded and the database writable', async () => {
    const app = appWith();
    await request(app).get('/health').expect(200, { status: 'ok' });
    const ready = await request(app).get('/ready').expect(200);
    expect(ready.body).toEqual({ status: 'ready', models: { loaded: config.models.load, missing: [] }, database: 'writable' });
  });

  it('is not ready when the database cannot be written', async () => {
    const store = Store.open(config.store);
    const app = appWith(store);
    store.close();
    const ready = await request(app).get('/ready').expect(503);
    expect(ready.body.database).toBe('not_writable');
  });

  it('sends helmet security headers and no x-powered-by', async () => {
    const res = await request(appWith()).get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('answers unknown routes, bad JSON and oversized bodies with JSON errors', async () => {
    const app = appWith();
    await request(app).get('/nowhere').expect(404, { error: 'not_found', message: 'No route for GET /nowhere.' });
    const bad = await request(app).post('/health').set('content-type', 'application/json').send('{"images": [').expect(400);
    expect(bad.body).toEqual({ error: 'invalid_json', message: 'The request body is not valid JSON.' });
    const huge = 'A'.repeat(jsonBodyLimit(config.limits.maxImageBytes) + 1);
    const tooLarge = await request(app).post('/health').set('content-type', 'application/json').send(`{"image":"${huge}"}`).expect(413);
    expect(tooLarge.body.error).toBe('payload_too_large');
  });

  it('accepts a JSON body holding a whole maximum-size image in base64', async () => {
    const image = Buffer.alloc(config.limits.maxImageBytes, 7).toString('base64');
    // The body is parsed (no 413), then the route is unknown.
    await request(appWith()).post('/nowhere').send({ image }).expect(404);
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
