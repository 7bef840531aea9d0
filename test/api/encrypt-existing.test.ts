import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { PROJECT_ROOT } from '../../src/config';
import { openStore, type NewImage, type Store } from '../../src/store';
import { DATABASE_FILE } from '../../src/store/sqlite';
import { Sealer } from '../../src/store/sealer';
import { USER_KEY, useApp } from '../helpers/app';
import { firstFormatSealed, TEST_ENCRYPTION_KEY } from '../helpers/encryption';
import { seededRandom } from '../helpers/random';
import { storeTask, TEST_LEASE } from '../helpers/scans';
import { sqliteDb } from '../helpers/sqlite';

const testApp = useApp();
const IMAGE_KEY = '33333333-3333-4333-8333-333333333333';
const ENROLLED_KEY = '44444444-4444-4444-8444-444444444444';
const SPACE = { model: 'fr-feature', modelVersion: 'test' };
const NOW = '2026-11-29T06:00:00Z';
const CLIENT = 'default';

const image = (key: string): NewImage => ({
  key,
  contentType: 'image/jpeg',
  fileSize: 4096,
  width: 64,
  height: 64,
  createdAt: NOW,
  original: randomBytes(4096),
  cropped: randomBytes(1024),
  analysis: '{}',
});

/** `npx facegate encrypt-existing` on `dataDir`, with the given environment. */
function encryptExisting(dataDir: string, env: Record<string, string>) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'cli.ts'), 'encrypt-existing'], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, FACEGATE_DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The app of useApp on `store`, logging into `lines`. */
function appOn(store: Store, lines: string[] = []) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return createApp({ ...testApp().deps, store, logger: pino(sink) });
}

describe('a store written in clear, then a key', () => {
  it('is refused with a 500 naming the row until encrypt-existing has sealed it; then the service reads it, and no copy in clear is left', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'facegate-encrypt-existing-'));
    const plain = await openStore({ dataDir, busyTimeoutMs: 1000 }, Sealer.plain());
    const upload = image(IMAGE_KEY);
    const enrolled = image(ENROLLED_KEY);
    const random = seededRandom(1);
    const embedding = Float32Array.from({ length: 512 }, () => random());
    await plain.images.insert(CLIENT, upload);
    await plain.users.enroll(CLIENT, { username: 'ada', createdAt: NOW, template: { ...SPACE, embedding }, image: { upload: enrolled } }, async () => undefined);
    await storeTask(plain.scans, { id: 'task-1', client: CLIENT, collection: 'collection-1', createdAt: NOW }, [{ name: 'a.jpg', bytes: randomBytes(2048) }]);
    // A crop sealed by an earlier version, without associated data.
    sqliteDb(plain).prepare('UPDATE images SET cropped = ? WHERE key = ?').run(firstFormatSealed(upload.cropped), IMAGE_KEY);
    await plain.close();

    const keyed = () => openStore({ dataDir, busyTimeoutMs: 1000 }, Sealer.fromKeyText(TEST_ENCRYPTION_KEY));
    const before = await keyed();
    const lines: string[] = [];
    const refused = await request(appOn(before, lines)).get(`/face_recognition/image/${IMAGE_KEY}/file`).set('Authorization', USER_KEY).expect(500);
    expect(refused.body).toEqual({ title: 'internal_error', description: 'The service failed to handle this request.' });
    expect(lines.join('')).toContain(`images:${IMAGE_KEY}:original is stored in clear although FACEGATE_ENCRYPTION_KEY is set`);
    await before.close();

    expect(encryptExisting(dataDir, {})).toMatchObject({ status: 2, stderr: expect.stringContaining('encrypt-existing needs FACEGATE_ENCRYPTION_KEY') });
    const first = encryptExisting(dataDir, { FACEGATE_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY });
    // images: 2 originals + 2 crops; 1 template; 1 scan file.
    expect(first).toMatchObject({ status: 0, stdout: '6 blobs sealed, 0 already sealed with this key\n' });
    expect(first.stderr).toContain('6/6 stored blobs');
    const again = encryptExisting(dataDir, { FACEGATE_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY });
    expect(again).toMatchObject({ status: 0, stdout: '0 blobs sealed, 6 already sealed with this key\n' });

    const db = join(dataDir, DATABASE_FILE);
    const files = Buffer.concat([db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
    for (const bytes of [upload.original, upload.cropped, enrolled.original, Buffer.from(embedding.buffer)]) expect(files.includes(bytes.subarray(1000, 1064))).toBe(false);

    const after = await keyed();
    const file = await request(appOn(after)).get(`/face_recognition/image/${IMAGE_KEY}/file`).set('Authorization', USER_KEY).buffer(true).expect(200);
    expect(Buffer.compare(file.body as Buffer, upload.original)).toBe(0);
    await after.images.markUsed(CLIENT, IMAGE_KEY, NOW);
    expect(await after.images.croppedOfUsed(CLIENT, IMAGE_KEY)).toEqual(upload.cropped);
    expect(await after.users.templatesOf(CLIENT, 'ada', SPACE)).toEqual([embedding]);
    expect(await after.users.enrolledOriginals(CLIENT, 'ada')).toEqual([enrolled.original]);
    expect((await after.scans.claimNext(TEST_LEASE, NOW))?.bytes).toHaveLength(2048);
    await after.close();
  });
});
