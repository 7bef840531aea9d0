import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATABASE_FILE, SqliteStore } from '../../src/store/sqlite';
import { MIGRATIONS } from '../../src/store/sqlite/migrations';

function tempDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'facegate-store-')), 'data');
}

describe('SqliteStore', () => {
  it('creates the database on first open, in WAL mode, fully migrated', async () => {
    const store = SqliteStore.open({ dataDir: tempDir(), busyTimeoutMs: 1000 });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(1000);
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(await store.schemaVersion()).toBe(MIGRATIONS.length);
    const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['images', 'scan_files', 'sqlite_sequence', 'tasks', 'template_changes', 'templates', 'users']);
    expect(await store.isWritable()).toBe(true);
    await store.close();
  });

  it('migrates a version-1 database to batch scans, keeping its tasks', async () => {
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    const old = new Database(join(dataDir, DATABASE_FILE));
    old.exec(MIGRATIONS[0] as string);
    old.pragma('user_version = 1');
    old.prepare(`INSERT INTO tasks (id, collection, status, total, created_at, updated_at) VALUES ('t1', 'c1', 'done', 2, '2026-01-01', '2026-01-01')`).run();
    old.close();
    const store = SqliteStore.open({ dataDir, busyTimeoutMs: 1000 });
    expect(await store.schemaVersion()).toBe(MIGRATIONS.length);
    expect(await store.scans.task('default', 't1')).toMatchObject({ collection: 'c1', status: 'done', total: 2, failure: null, startedAt: null });
    expect(await store.scans.profiles('t1')).toEqual([]);
    await store.close();
  });

  it('migrates a version-2 database to tenants: every row to the configured default client, users keeping their templates and images', async () => {
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    const old = new Database(join(dataDir, DATABASE_FILE));
    old.exec(`${MIGRATIONS[0] as string};${MIGRATIONS[1] as string}`);
    old.pragma('user_version = 2');
    old.exec(`
      INSERT INTO users (id, username, created_at) VALUES (7, 'ada', '2026-01-01T00:00:00Z');
      INSERT INTO images (key, user_id, content_type, file_size, width_px, height_px, original, created_at) VALUES ('k1', 7, 'image/jpeg', 3, 1, 1, x'010203', '2026-01-01T00:00:00Z');
      INSERT INTO images (key, user_id, content_type, file_size, width_px, height_px, original, created_at) VALUES ('k2', NULL, 'image/jpeg', 3, 1, 1, x'040506', '2026-01-01T00:00:00Z');
      INSERT INTO templates (user_id, image_key, model, model_version, embedding, created_at) VALUES (7, 'k1', 'fr-feature', '1', x'00000000', '2026-01-01T00:00:00Z');
      INSERT INTO tasks (id, collection, status, total, created_at, updated_at) VALUES ('t1', 'c1', 'done', 0, '2026-01-01', '2026-01-01');
    `);
    old.close();
    const store = SqliteStore.open({ dataDir, busyTimeoutMs: 1000, defaultClient: 'acme' });
    expect(await store.schemaVersion()).toBe(MIGRATIONS.length);
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(await store.users.metadata('acme', 'ada')).toMatchObject({ username: 'ada', imageKeys: ['k1'], templates: [{ model: 'fr-feature' }] });
    expect(await store.users.metadata('default', 'ada')).toBeUndefined();
    expect(await store.images.original('acme', 'k2')).toEqual(Buffer.from([4, 5, 6]));
    expect(await store.scans.task('acme', 't1')).toMatchObject({ client: 'acme', collection: 'c1' });
    // Usernames are unique per client now: another client may have its own ada, the same client not.
    const insert = store.db.prepare('INSERT INTO users (client, username, created_at) VALUES (?, ?, ?)');
    insert.run('other', 'ada', '2026-01-02T00:00:00Z');
    expect(() => insert.run('acme', 'ada', '2026-01-02T00:00:00Z')).toThrow(/UNIQUE/);
    // The rebuilt users table is still the one templates and images cascade from.
    expect(await store.users.delete('acme', 'ada')).toBe(true);
    expect(store.db.prepare('SELECT COUNT(*) FROM templates').pluck().get()).toBe(0);
    expect(store.db.prepare('SELECT key FROM images').pluck().all()).toEqual(['k2']);
    await store.close();
  });

  it('keeps data across reopening and does not migrate twice', async () => {
    const dataDir = tempDir();
    const first = SqliteStore.open({ dataDir, busyTimeoutMs: 1000 });
    first.db.prepare("INSERT INTO users (client, username, created_at) VALUES ('default', 'ada', '2026-01-01T00:00:00Z')").run();
    await first.close();
    const second = SqliteStore.open({ dataDir, busyTimeoutMs: 1000 });
    expect(second.db.prepare('SELECT username FROM users').pluck().all()).toEqual(['ada']);
    expect(await second.schemaVersion()).toBe(MIGRATIONS.length);
    await second.close();
  });

  it('removes a user’s templates and images with the user', async () => {
    const store = SqliteStore.open({ dataDir: tempDir(), busyTimeoutMs: 1000 });
    const now = new Date().toISOString();
    const userId = store.db.prepare('INSERT INTO users (client, username, created_at) VALUES (?, ?, ?)').run('default', 'bo', now).lastInsertRowid;
    store.db
      .prepare('INSERT INTO images (key, client, user_id, content_type, file_size, width_px, height_px, original, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('k1', 'default', userId, 'image/jpeg', 3, 1, 1, Buffer.from([1, 2, 3]), now);
    store.db
      .prepare('INSERT INTO templates (user_id, image_key, model, model_version, embedding, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(userId, 'k1', 'faceres', '1', Buffer.alloc(8), now);
    store.db.prepare('DELETE FROM users WHERE id = ?').run(userId);
    expect(store.db.prepare('SELECT COUNT(*) FROM images').pluck().get()).toBe(0);
    expect(store.db.prepare('SELECT COUNT(*) FROM templates').pluck().get()).toBe(0);
    await store.close();
  });

  it('refuses a database written by a newer schema', async () => {
    const dataDir = tempDir();
    await SqliteStore.open({ dataDir, busyTimeoutMs: 1000 }).close();
    const raw = new Database(join(dataDir, DATABASE_FILE));
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => SqliteStore.open({ dataDir, busyTimeoutMs: 1000 })).toThrow('is newer than this build knows');
  });

  it('reports a closed database as not writable', async () => {
    const store = SqliteStore.open({ dataDir: tempDir(), busyTimeoutMs: 1000 });
    await store.close();
    expect(await store.isWritable()).toBe(false);
  });
});
