import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NewImage } from '../../src/store';
import { DATABASE_FILE, SqliteStore } from '../../src/store/sqlite';
import { startRetention } from '../../src/store/retention';
import { seededRandom } from '../helpers/random';
import { storeTask } from '../helpers/scans';

function openStore(): { store: SqliteStore; files: string[] } {
  const dataDir = mkdtempSync(join(tmpdir(), 'facegate-erasure-'));
  const db = join(dataDir, DATABASE_FILE);
  return { store: SqliteStore.open({ dataDir, busyTimeoutMs: 1000 }), files: [db, `${db}-wal`] };
}

/** Whether any of the database's files (the database and its write-ahead log) holds `bytes`. */
function stored(files: string[], bytes: Buffer): boolean {
  return files.filter((f) => existsSync(f)).some((f) => readFileSync(f).includes(bytes));
}

function image(key: string, createdAt: string): NewImage {
  return {
    key,
    contentType: 'image/jpeg',
    fileSize: 4096,
    width: 64,
    height: 64,
    createdAt,
    original: randomBytes(4096),
    cropped: randomBytes(2048),
    analysis: '{}',
  };
}

// 64 bytes from the middle: recognisable, and not split across database pages at a page boundary.
const fingerprint = (bytes: Buffer) => bytes.subarray(1000, 1064);

describe('erasing a person', () => {
  it('leaves none of their image, crop or template in the database files', async () => {
    const { store, files } = openStore();
    const photo = image('11111111-1111-4111-8111-111111111111', '2026-11-23T06:00:00Z');
    const random = seededRandom(11);
    const embedding = new Float32Array(512).map(() => random() - 0.5);
    const template = Buffer.from(embedding.buffer).subarray(512, 576);
    await store.users.enroll('default', { username: 'ada', createdAt: photo.createdAt, image: { upload: photo }, template: { model: 'faceres', modelVersion: 'v', embedding } }, async () => undefined);
    for (const bytes of [fingerprint(photo.original), fingerprint(photo.cropped), template]) expect(stored(files, bytes)).toBe(true);

    expect(await store.users.delete('default', 'ada')).toBe(true);
    for (const bytes of [fingerprint(photo.original), fingerprint(photo.cropped), template]) expect(stored(files, bytes)).toBe(false);
    await store.close();
  });
});

describe('retention of images never enrolled', () => {
  it('erases unowned images older than the cutoff, from the files too, and keeps newer and enrolled ones', async () => {
    const { store, files } = openStore();
    const old = image('22222222-2222-4222-8222-222222222222', '2026-11-22T05:00:00Z');
    const recent = image('33333333-3333-4333-8333-333333333333', '2026-11-23T05:00:00Z');
    const enrolled = image('44444444-4444-4444-8444-444444444444', '2026-11-20T05:00:00Z');
    // Retention is a sweep over every client's images.
    const otherOld = image('55555555-5555-4555-8555-555555555555', '2026-11-22T04:00:00Z');
    await store.images.insert('default', old);
    await store.images.insert('other', otherOld);
    await store.images.insert('other', recent);
    await store.users.enroll('default', { username: 'bob', createdAt: enrolled.createdAt, image: { upload: enrolled }, template: { model: 'faceres', modelVersion: 'v', embedding: new Float32Array(8) } }, async () => undefined);

    expect(await store.images.eraseUnenrolledBefore(new Date('2026-11-22T06:00:00Z'))).toBe(2);
    expect(await store.images.metadata('default', old.key)).toBeUndefined();
    expect(await store.images.metadata('other', otherOld.key)).toBeUndefined();
    expect(await store.images.metadata('other', recent.key)).toBeDefined();
    expect(await store.images.metadata('default', enrolled.key)).toBeDefined();
    expect(stored(files, fingerprint(old.original))).toBe(false);
    expect(stored(files, fingerprint(recent.original))).toBe(true);
    await store.close();
  });
});

describe('retention of finished scans', () => {
  const HOUR_MS = 3_600_000;

  /** A scan of one file, profiled with a thumbnail and finished at `finishedAt` unless that is null (unfinished). */
  async function scan(store: SqliteStore, id: string, finishedAt: string | null): Promise<{ original: Buffer; thumbnail: Buffer }> {
    const original = randomBytes(4096);
    const thumbnail = randomBytes(4096);
    await storeTask(store.scans, { id, client: 'default', collection: id.replace(/^./, 'c'), createdAt: '2026-11-01T00:00:00.000Z' }, [{ name: 'a.jpg', bytes: original }]);
    if (finishedAt === null) return { original, thumbnail };
    // Its only file settled: the task is done.
    await store.scans.recordProfile(id, 0, { face_count: 1 }, thumbnail, finishedAt);
    return { original, thumbnail };
  }

  it('erases scans that finished (done or failed) before the cutoff with their files and thumbnails, from the database files too, and keeps newer and unfinished ones', async () => {
    const { store, files } = openStore();
    const old = await scan(store, '55555555-5555-4555-8555-555555555555', '2026-11-20T05:00:00.000Z');
    const recent = await scan(store, '66666666-6666-4666-8666-666666666666', '2026-11-23T05:00:00.000Z');
    const running = await scan(store, '77777777-7777-4777-8777-777777777777', null);
    const failed = await scan(store, '88888888-8888-4888-8888-888888888888', null);
    await store.scans.fail('88888888-8888-4888-8888-888888888888', 'the models could not be loaded', '2026-11-20T05:00:00.000Z');
    for (const bytes of [old.thumbnail, failed.original]) expect(stored(files, fingerprint(bytes))).toBe(true);

    expect(await store.scans.eraseFinishedBefore(new Date('2026-11-22T00:00:00Z'))).toBe(2);
    expect(await store.scans.task('default', '55555555-5555-4555-8555-555555555555')).toBeUndefined();
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM scan_files WHERE task_id = ?').get('55555555-5555-4555-8555-555555555555')).toEqual({ n: 0 });
    for (const bytes of [old.thumbnail, failed.original]) expect(stored(files, fingerprint(bytes))).toBe(false);
    expect(await store.scans.thumbnail('66666666-6666-4666-8666-666666666666', 0)).toEqual(recent.thumbnail);
    expect((await store.scans.task('default', '77777777-7777-4777-8777-777777777777'))?.status).toBe('pending');
    expect(stored(files, fingerprint(running.original))).toBe(true);
    await store.close();
  });

  it('runs at start-up beside the retention of unenrolled images, each with its own period', async () => {
    const { store, files } = openStore();
    const hours = { unenrolledImageHours: 24, scanHours: 168 };
    const ago = (h: number) => new Date(Date.now() - h * HOUR_MS).toISOString();
    const expired = await scan(store, '99999999-9999-4999-8999-999999999999', ago(hours.scanHours + 1));
    await scan(store, 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', ago(hours.scanHours - 1));
    await store.images.insert('default', image('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', ago(hours.unenrolledImageHours + 1).replace(/\.\d{3}Z$/, 'Z')));
    const erased: unknown[] = [];
    const stop = await startRetention(store, hours, (counts) => erased.push(counts), (error) => erased.push(error));
    stop();
    expect(erased).toEqual([{ images: 1, scans: 1 }]);
    expect(stored(files, fingerprint(expired.thumbnail))).toBe(false);
    expect((await store.scans.task('default', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'))?.status).toBe('done');
    await store.close();
  });
});
