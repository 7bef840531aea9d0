import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import pino from 'pino';
import request from 'supertest';
import { scaledTo } from '../../eval/transforms';
import { createApp } from '../../src/api/app';
import { identityTagger } from '../../src/log';
import { ADMIN_KEY, OTHER_CLIENT_ADMIN_KEY, OTHER_CLIENT_KEY, USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, facePath } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';
import { sqliteDb } from '../helpers/sqlite';

/**
 * The cross-client matrix: the default client (USER_KEY) owns an uploaded image, an enrolled user
 * and a finished scan; the other client's keys, ordinary and admin, try every route that reads,
 * changes or deletes stored data, and get exactly the answer an id that never existed gets.
 */

const testApp = useApp((config) => {
  // Admins see rejected authentications' scores: only ever about their own client's users.
  config.recognition.rejectionScores = 'admin';
  config.limits.maxQueuedAnalyses = 16;
  config.limits.maxQueueWaitMs = 120_000;
});
const NEVER = '00000000-0000-4000-8000-000000000000';
const INTRUDERS = [OTHER_CLIENT_KEY, OTHER_CLIENT_ADMIN_KEY];

/** Every route of the app as `METHOD /path`, read from the routers themselves. */
function routesOf(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) for (const path of paths) found.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack as typeof stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Parameters<typeof walk>[0] } }).router.stack);
  return [...new Set(found)].sort();
}

/** Routes that read no stored item by id: they only create the caller's own data, or touch none. */
const NO_STORED_ITEM = [
  'GET /',
  'GET /favicon.ico',
  'GET /health',
  'GET /ready',
  'GET /openapi.yaml',
  'GET /metrics',
  'POST /NFFS-FIQA/v1/predict',
  'POST /face_recognition/image',
  'POST /quality/iso29794-5',
  'POST /scan/uploaded',
];

/** Routes acting on the caller's whole client rather than one item: the reset test below covers them. */
const CLIENT_WIDE = ['POST /api/reset'];

const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);

interface Owned {
  /** The enrolled user matt's photo. */
  imageKey: string;
  /** An uploaded image of the owner not enrolled: another client must not enroll or authenticate with it. */
  spareKey: string;
  tid: string;
  collection: string;
}

const call = (method: 'get' | 'post' | 'delete', path: string, key: string) => request(testApp().app)[method](path).set('Authorization', key);

/**
 * One entry per route that reads, changes or deletes stored data: the request another client
 * sends for the owner's item, and the same request for an item that never existed.
 */
const MATRIX: Record<string, (owned: Owned, key: string) => { theirs: Promise<request.Response>; never: Promise<request.Response> }> = {
  'GET /face_recognition/image/:image_key': (o, key) => ({ theirs: call('get', `/face_recognition/image/${o.imageKey}`, key), never: call('get', `/face_recognition/image/${NEVER}`, key) }),
  'GET /face_recognition/image/:image_key/file': (o, key) => ({
    theirs: call('get', `/face_recognition/image/${o.imageKey}/file`, key),
    never: call('get', `/face_recognition/image/${NEVER}/file`, key),
  }),
  'GET /face_recognition/image/:image_key/cropped_file': (o, key) => ({
    theirs: call('get', `/face_recognition/image/${o.imageKey}/cropped_file`, key),
    never: call('get', `/face_recognition/image/${NEVER}/cropped_file`, key),
  }),
  'GET /api/users/:username': (_o, key) => ({ theirs: call('get', '/api/users/matt', key), never: call('get', '/api/users/ghost', key) }),
  'DELETE /api/users/:username': (_o, key) => ({ theirs: call('delete', '/api/users/matt', key), never: call('delete', '/api/users/ghost', key) }),
  'POST /api/enroll': (o, key) => ({
    theirs: call('post', `/api/enroll?username=intruder&image_key=${o.spareKey}`, key),
    never: call('post', `/api/enroll?username=intruder&image_key=${NEVER}`, key),
  }),
  'POST /api/authentificate': (_o, key) => ({
    theirs: photo('deepface_img31.jpg').then((bytes) => call('post', '/api/authentificate?username=matt', key).attach('auth_video', bytes, 'probe.jpg')),
    never: photo('deepface_img31.jpg').then((bytes) => call('post', '/api/authentificate?username=ghost', key).attach('auth_video', bytes, 'probe.jpg')),
  }),
  'POST /api/authenticate': (o, key) => ({
    theirs: call('post', `/api/authenticate?username=ghost&image_key=${o.spareKey}`, key),
    never: call('post', `/api/authenticate?username=ghost&image_key=${NEVER}`, key),
  }),
  'GET /task/:tid': (o, key) => ({ theirs: call('get', `/task/${o.tid}`, key), never: call('get', `/task/${NEVER}`, key) }),
  'GET /task/:tid/status': (o, key) => ({ theirs: call('get', `/task/${o.tid}/status`, key), never: call('get', `/task/${NEVER}/status`, key) }),
  'GET /scan/:collection/profiles': (o, key) => ({ theirs: call('get', `/scan/${o.collection}/profiles`, key), never: call('get', `/scan/${NEVER}/profiles`, key) }),
  'GET /scan/:collection/outliers': (o, key) => ({ theirs: call('get', `/scan/${o.collection}/outliers`, key), never: call('get', `/scan/${NEVER}/outliers`, key) }),
  'GET /scan/:collection/report': (o, key) => ({ theirs: call('get', `/scan/${o.collection}/report`, key), never: call('get', `/scan/${NEVER}/report`, key) }),
  'DELETE /scan/:collection': (o, key) => ({ theirs: call('delete', `/scan/${o.collection}`, key), never: call('delete', `/scan/${NEVER}`, key) }),
};

/** The answer with the ids in it made the same, so the two answers can be compared whole. */
const answer = (res: request.Response, owned: Owned) => ({
  status: res.status,
  body: JSON.parse(JSON.stringify(res.body).replaceAll(owned.tid, NEVER).replaceAll(owned.collection, NEVER)) as unknown,
});

describe('every route that reads, changes or deletes stored data is in the cross-client matrix', () => {
  it('the routers hold exactly the matrix routes and the routes without a stored item', () => {
    expect(routesOf(testApp().app)).toEqual([...Object.keys(MATRIX), ...CLIENT_WIDE, ...NO_STORED_ITEM].sort());
  });
});

describeWithFaces('two clients: another client’s data answers as if it never existed', () => {
  let owned: Owned;

  /** Everything the owner stored, as the owner reads it. */
  const ownerView = async () => {
    const get = (path: string) => call('get', path, USER_KEY);
    const file = await get(`/face_recognition/image/${owned.imageKey}/file`).buffer(true).expect(200);
    const crop = await get(`/face_recognition/image/${owned.imageKey}/cropped_file`).buffer(true).expect(200);
    return {
      image: (await get(`/face_recognition/image/${owned.imageKey}`).expect(200)).body as unknown,
      spare: (await get(`/face_recognition/image/${owned.spareKey}`).expect(200)).body as unknown,
      file: (file.body as Buffer).toString('base64'),
      crop: (crop.body as Buffer).toString('base64'),
      user: (await get('/api/users/matt').expect(200)).body as unknown,
      task: ((await get(`/task/${owned.tid}`).expect(200)).body as { status: string }).status,
      profiles: (await get(`/scan/${owned.collection}/profiles`).expect(200)).body as unknown,
      outliers: (await get(`/scan/${owned.collection}/outliers`).expect(200)).body as unknown,
      report: (await get(`/scan/${owned.collection}/report`).expect(200)).text.length,
    };
  };

  beforeAll(async () => {
    const { app, deps } = testApp();
    await request(app).post('/api/reset?all_clients=true').set('Authorization', ADMIN_KEY).expect(200);
    const upload = async (file: string) =>
      (await call('post', '/face_recognition/image', USER_KEY).send({ image: (await photo(file)).toString('base64') }).expect(201)).body.image_key as string;
    const spareKey = await upload('facenet_paul_rudd_1.jpg');
    await call('post', '/api/enroll?username=matt', USER_KEY).attach('cin_file', await photo('deepface_img29.jpg'), 'cin.jpg').expect(200);
    const [imageKey] = (await call('get', '/api/users/matt', USER_KEY).expect(200)).body.image_keys as string[];
    const scan = call('post', '/scan/uploaded', USER_KEY);
    for (const seed of [3, 4, 5, 6]) scan.attach('files', await faceFreeJpeg(seed), `image-${seed}.jpg`);
    const { tid, collection } = (await scan.expect(202)).body as { tid: string; collection: string };
    await deps.scanner.idle();
    owned = { imageKey, spareKey, tid, collection };
  }, 180_000);

  it.each(Object.keys(MATRIX))('%s: 404 for the other client’s ordinary and admin keys, as for an id that never existed; the owner’s data is intact', async (route) => {
    const before = await ownerView();
    for (const key of INTRUDERS) {
      const { theirs, never } = MATRIX[route](owned, key);
      const [intruded, unknown] = [answer(await theirs, owned), answer(await never, owned)];
      expect(intruded.status).toBe(404);
      expect(intruded).toEqual(unknown);
    }
    expect(await ownerView()).toEqual(before);
  }, 120_000);

  it('enrolls the same username and the same face for the other client: usernames are per client, the duplicate search sees only its own client', async () => {
    const before = await ownerView();
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) });
    const logged = createApp({ ...testApp().deps, logger: pino({ level: 'info' }, sink) });
    const enroll = (key: string, name: string) =>
      photo('deepface_img29.jpg').then((bytes) => request(logged).post(`/api/enroll?username=${name}`).set('Authorization', key).attach('cin_file', bytes, 'cin.jpg'));
    expect((await enroll(OTHER_CLIENT_KEY, 'matt')).body).toMatchObject({ EnrollStatus: 'APPROVED' });
    // Within a client the duplicate search still finds the face.
    expect((await enroll(OTHER_CLIENT_KEY, 'matt_again')).body.DecisionReason).toBe('FACE_ALREADY_ENROLLED');
    expect((await enroll(USER_KEY, 'matt_again')).body.DecisionReason).toBe('FACE_ALREADY_ENROLLED');

    // The log follows the newcomer by a keyed hash, never by name, and never names the enrolled user.
    const { dataDir } = testApp().config.store;
    const secretFile = join(dataDir, testApp().config.log.identitySecretFile);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const tagger = identityTagger(readFileSync(secretFile, 'utf8').trim());
    const warnings = lines.filter((line) => line.msg === 'face already enrolled');
    expect(warnings.map((line) => ({ client: line.client, user: line.user }))).toEqual([
      { client: 'other', user: tagger.tag('other', 'matt_again') },
      { client: 'default', user: tagger.tag('default', 'matt_again') },
    ]);
    expect(tagger.tag('other', 'matt_again')).toMatch(/^[0-9a-f]{16}$/);
    // Request URLs (their query strings) are the request serializer's concern; everything else must hold no username.
    const withoutUrls = lines.map((line) => JSON.stringify({ ...line, req: undefined }));
    expect(withoutUrls.filter((line) => line.includes('matt'))).toEqual([]);
    const probe = await photo('deepface_img31.jpg');
    for (const key of [USER_KEY, OTHER_CLIENT_KEY]) {
      const res = await call('post', '/api/authentificate?username=matt', key).attach('auth_video', probe, 'probe.jpg').expect(200);
      expect(res.body.DecisionReason).toBe('AUTHENTIFICATION_SUCCESS');
    }
    const stranger = await photo('deepface_img2.jpg');
    const mismatch = (key: string) => call('post', '/api/authentificate?username=matt', key).attach('auth_video', stranger, 'probe.jpg').expect(200);
    expect((await mismatch(OTHER_CLIENT_ADMIN_KEY)).body).toEqual({ score: expect.any(Number), Decision: 'REJECTED', DecisionReason: 'FACE_MISMATCH' });
    expect((await mismatch(OTHER_CLIENT_KEY)).body.score).toBeNull();
    expect(await ownerView()).toEqual(before);
    expect((await call('get', '/api/users/matt', OTHER_CLIENT_KEY).expect(200)).body.image_keys).not.toEqual((before.user as { image_keys: string[] }).image_keys);
  }, 180_000);

  it('reset: a client admin erases its own client only and cannot ask for all; the all-clients admin erases its client, or every client when it asks', async () => {
    const { store } = testApp();
    const count = (sql: string) => sqliteDb(store).prepare(sql).pluck().get() as number;
    const before = await ownerView();
    const otherUsers = () => count("SELECT COUNT(*) FROM users WHERE client = 'other'");
    expect(otherUsers()).toBe(1);

    const refused = await call('post', '/api/reset?all_clients=true', OTHER_CLIENT_ADMIN_KEY).expect(403);
    expect(refused.body).toEqual({ code: 403, msg: expect.stringMatching(/^ERROR_DETECTED : .*all-clients admin/) });
    expect((await call('post', '/api/reset?all_clients=maybe', ADMIN_KEY).expect(400)).body.code).toBe(400);
    expect(otherUsers()).toBe(1);

    await call('post', '/api/reset', OTHER_CLIENT_ADMIN_KEY).expect(200);
    expect(otherUsers()).toBe(0);
    expect(await ownerView()).toEqual(before);

    // The other client again holds a user and a scan, which a reset of the default client leaves alone.
    const bytes = await photo('deepface_img29.jpg');
    await call('post', '/api/enroll?username=matt', OTHER_CLIENT_KEY).attach('cin_file', bytes, 'cin.jpg').expect(200);
    await call('post', '/scan/uploaded', OTHER_CLIENT_KEY).attach('files', await faceFreeJpeg(7), 'other.jpg').expect(202);
    await testApp().deps.scanner.idle();
    await call('post', '/api/reset', ADMIN_KEY).expect(200);
    expect(count("SELECT COUNT(*) FROM users WHERE client = 'default'") + count("SELECT COUNT(*) FROM images WHERE client = 'default'")).toBe(0);
    // Scans go with the client's reset, thumbnails included.
    expect(count("SELECT COUNT(*) FROM tasks WHERE client = 'default'")).toBe(0);
    await call('get', `/task/${owned.tid}`, USER_KEY).expect(404);
    expect(otherUsers()).toBe(1);
    expect(count("SELECT COUNT(*) FROM scan_files f JOIN tasks t ON t.id = f.task_id WHERE t.client = 'other' AND f.thumbnail IS NOT NULL")).toBe(1);

    await call('post', '/api/reset?all_clients=true', ADMIN_KEY).expect(200);
    expect(['users', 'templates', 'images', 'tasks', 'scan_files'].map((table) => count(`SELECT COUNT(*) FROM ${table}`))).toEqual([0, 0, 0, 0, 0]);
  }, 180_000);
});
