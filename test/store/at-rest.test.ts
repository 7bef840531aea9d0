import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/config';
import type { NewImage, Store } from '../../src/store';
import { DATABASE_FILE, SqliteStore } from '../../src/store/sqlite';
import { Sealer } from '../../src/store/sealer';
import { TEST_ENCRYPTION_KEY } from '../helpers/encryption';
import { seededRandom } from '../helpers/random';
import { storeTask, TEST_LEASE } from '../helpers/scans';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';
const SPACE = { model: 'fr-feature', modelVersion: 'test' };
const NOW = '2026-11-29T06:00:00Z';
const CLIENT = 'default';

const newDataDir = () => join(mkdtempSync(join(tmpdir(), 'facegate-at-rest-')), 'data');
const modeOf = (path: string) => statSync(path).mode & 0o777;

function image(key: string): NewImage {
  return { key, contentType: 'image/jpeg', fileSize: 4096, width: 64, height: 64, createdAt: NOW, original: randomBytes(4096), cropped: randomBytes(1024), analysis: '{}' };
}

async function enroll(store: Store, username: string, key: string): Promise<void> {
  const random = seededRandom(username.charCodeAt(0));
  const embedding = Float32Array.from({ length: 512 }, () => random());
  await store.users.enroll(CLIENT, { username, createdAt: NOW, template: { ...SPACE, embedding }, image: { upload: image(key) } }, async () => undefined);
}

describe('database files', () => {
  it('are 0600 in a 0700 folder from the first open', async () => {
    const dataDir = newDataDir();
    const store = SqliteStore.open({ dataDir, busyTimeoutMs: 1000 }, Sealer.plain());
    await store.images.insert(CLIENT, image(KEY_A));
    const db = join(dataDir, DATABASE_FILE);
    expect(modeOf(dataDir)).toBe(0o700);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) expect([file, modeOf(file)]).toEqual([file, 0o600]);
    await store.close();
  });

  it('made readable by others by an earlier version are closed again at the next open', async () => {
    const dataDir = newDataDir();
    const db = join(dataDir, DATABASE_FILE);
    const first = SqliteStore.open({ dataDir, busyTimeoutMs: 1000 });
    await first.images.insert(CLIENT, image(KEY_A));
    chmodSync(dataDir, 0o755);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) chmodSync(file, 0o644);
    const second = SqliteStore.open({ dataDir, busyTimeoutMs: 1000 });
    expect(modeOf(dataDir)).toBe(0o700);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) expect([file, modeOf(file)]).toEqual([file, 0o600]);
    await second.close();
    await first.close();
  });
});

// Changing the owner of a folder, and running as another user, needs root (as CI runs).
const asRoot = process.getuid?.() === 0;

describe('database files in a folder another user owns (a mounted volume)', () => {
  (asRoot ? it : it.skip)('are 0600, and the folder, not ours to change, is left as it is instead of stopping the start', () => {
    const parent = mkdtempSync(join(tmpdir(), 'facegate-volume-'));
    chmodSync(parent, 0o755);
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir, { mode: 0o777 });
    chmodSync(dataDir, 0o777);
    const open = `require(${JSON.stringify(join(PROJECT_ROOT, 'src', 'store', 'sqlite'))}).SqliteStore.open({ dataDir: ${JSON.stringify(dataDir)}, busyTimeoutMs: 1000 }).close()`;
    const run = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', '-e', open], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(modeOf(dataDir)).toBe(0o777);
    expect(modeOf(join(dataDir, DATABASE_FILE))).toBe(0o600);
  }, 60_000);
});

describe('sealed blobs', () => {
  const sealer = () => Sealer.fromKeyText(TEST_ENCRYPTION_KEY);

  it('copied into another image row, or into the crop column, do not open there', async () => {
    const store = SqliteStore.open({ dataDir: newDataDir(), busyTimeoutMs: 1000 }, sealer());
    const a = image(KEY_A);
    await store.images.insert(CLIENT, a);
    await store.images.insert(CLIENT, image(KEY_B));
    await store.images.markUsed(CLIENT, KEY_A, NOW);
    expect(await store.images.original(CLIENT, KEY_A)).toEqual(a.original);
    store.db.prepare('UPDATE images SET original = (SELECT original FROM images WHERE key = ?) WHERE key = ?').run(KEY_A, KEY_B);
    await expect(store.images.original(CLIENT, KEY_B)).rejects.toThrow(`images:${KEY_B}:original does not open`);
    store.db.prepare('UPDATE images SET cropped = original WHERE key = ?').run(KEY_A);
    await expect(store.images.croppedOfUsed(CLIENT, KEY_A)).rejects.toThrow(`images:${KEY_A}:cropped does not open`);
    await store.close();
  });

  it('copied from one user’s template to another’s do not open: nobody authenticates as bo with ada’s face', async () => {
    const store = SqliteStore.open({ dataDir: newDataDir(), busyTimeoutMs: 1000 }, sealer());
    await enroll(store, 'ada', KEY_A);
    await enroll(store, 'bo', KEY_B);
    expect(await store.users.templatesOf(CLIENT, 'bo', SPACE)).toHaveLength(1);
    store.db
      .prepare(`UPDATE templates SET embedding = (SELECT t.embedding FROM templates t JOIN users u ON u.id = t.user_id WHERE u.username = 'ada')
                WHERE user_id = (SELECT id FROM users WHERE username = 'bo')`)
      .run();
    await expect(store.users.templatesOf(CLIENT, 'bo', SPACE)).rejects.toThrow(/^templates:\d+:embedding does not open/);
    await store.close();
  });

  it('of a scan (uploaded files, thumbnails) open at their own position only', async () => {
    const store = SqliteStore.open({ dataDir: newDataDir(), busyTimeoutMs: 1000 }, sealer());
    const files = [randomBytes(2048), randomBytes(2048)];
    await storeTask(store.scans, { id: 'task-1', client: CLIENT, collection: 'collection-1', createdAt: NOW }, files.map((bytes, i) => ({ name: `${i}.jpg`, bytes })));
    expect((await store.scans.claimNext(TEST_LEASE, NOW))?.bytes).toEqual(files[0]);
    const thumbnail = randomBytes(512);
    await store.scans.recordProfile('task-1', 0, { file: '0.jpg' }, thumbnail, NOW);
    expect(await store.scans.thumbnail('task-1', 0)).toEqual(thumbnail);
    store.db.prepare('UPDATE scan_files SET thumbnail = (SELECT thumbnail FROM scan_files WHERE position = 0) WHERE position = 1').run();
    await expect(store.scans.thumbnail('task-1', 1)).rejects.toThrow('scan_files:task-1/1:thumbnail does not open');
    store.db.prepare('UPDATE scan_files SET content = (SELECT thumbnail FROM scan_files WHERE position = 0) WHERE position = 1').run();
    await expect(store.scans.claimNext(TEST_LEASE, NOW)).rejects.toThrow('scan_files:task-1/1:content does not open');
    await store.close();
  });
});
