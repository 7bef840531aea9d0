import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollmentConflict, type NewEnrollment, type NewImage, openStore, type Store, type UploadedFile } from '../../src/store';
import { MIGRATIONS } from '../../src/store/sqlite/migrations';
import type { PostgresStore } from '../../src/store/postgres';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres/schema';
import { Sealer } from '../../src/store/sealer';
import { loadConfig } from '../../src/config';
import { TEST_ENCRYPTION_KEY } from '../helpers/encryption';
import { TEST_LEASE } from '../helpers/scans';
import { sqliteDb } from '../helpers/sqlite';
import { createTestDatabase, describeWithPostgres, dropTestDatabases, openReplica, type TestDatabase } from './postgres-database';

const SPACE = { model: 'fr-feature', modelVersion: 'v1' };
const AT = '2026-11-29T06:00:00Z';

function image(key = randomUUID(), originalBytes = 16): NewImage {
  return { key, contentType: 'image/jpeg', fileSize: originalBytes, width: 4, height: 4, createdAt: AT, original: randomBytes(originalBytes), cropped: randomBytes(8), analysis: '{}' };
}

/** A unit vector along axis `axis` of 8: two faces on different axes are as unlike as faces get. */
function face(axis: number): Float32Array {
  const embedding = new Float32Array(8);
  embedding[axis] = 1;
  return embedding;
}

const enrollment = (username: string, embedding: Float32Array, photo: NewEnrollment['image'] = { upload: image() }): NewEnrollment => ({
  username,
  createdAt: AT,
  image: photo,
  template: { ...SPACE, embedding },
});

const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i], 0);

/** The duplicate check the enrollment flow makes: an enrolled user of the client whose template is the same face. */
const duplicateIn = (store: Store, client: string, embedding: Float32Array) => async () =>
  (await store.users.templates(client, SPACE)).find((t) => dot(t.embedding, embedding) > 0.9)?.username;

/**
 * A meeting point for two racing enrollments: each waits there until the other arrives, or for at
 * most `capMs` (without a lock both arrive and go on together; with it the second cannot arrive
 * before the first commits, so the first goes on alone once the cap is reached).
 */
function meetingPoint(parties: number, capMs: number): () => Promise<void> {
  let arrived = 0;
  let everyone!: () => void;
  const allThere = new Promise<void>((resolve) => (everyone = resolve));
  return async () => {
    if (++arrived === parties) everyone();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allThere, new Promise<void>((resolve) => (timer = setTimeout(resolve, capMs)))]);
    clearTimeout(timer);
  };
}

async function storeTask(store: Store, task: { id: string; client: string; collection: string; createdAt: string }, files: UploadedFile[]): Promise<void> {
  await store.scans.beginIntake(task);
  await store.scans.addFiles(task.id, 0, files);
  await store.scans.completeIntake(task.id, files.length);
}

const count = async (database: TestDatabase, table: string, where = 'true') =>
  Number((await database.sql<{ n: string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`))[0].n);

describeWithPostgres('PostgreSQL store', () => {
  const opened: PostgresStore[] = [];
  /** A fresh database and `replicas` stores on it, each with its own pool like a separate process. */
  async function replicas(n: number, options: Parameters<typeof openReplica>[1] = {}): Promise<{ database: TestDatabase; stores: PostgresStore[] }> {
    const database = await createTestDatabase();
    const stores: PostgresStore[] = [];
    for (let i = 0; i < n; i++) stores.push(await openReplica(database, options));
    opened.push(...stores);
    return { database, stores };
  }

  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await dropTestDatabases();
  });

  describe('schema', () => {
    it('is at the version SQLite’s migrations reach, recorded in schema_version', async () => {
      const { database, stores } = await replicas(1);
      expect(POSTGRES_SCHEMA_VERSION).toBe(MIGRATIONS.length);
      expect(await stores[0].schemaVersion()).toBe(MIGRATIONS.length);
      expect(await database.sql('SELECT version FROM schema_version')).toEqual([{ version: MIGRATIONS.length }]);
      expect(stores[0].backend).toBe('postgres');
    });

    it('has SQLite’s tables and columns, with the same nullability and matching types (tasks.seq, for SQLite’s rowid, aside)', async () => {
      const { database } = await replicas(1);
      const sqlite = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'facegate-pg-schema-')), busyTimeoutMs: 1000 });
      const sqliteTypes: Record<string, string> = { INTEGER: 'integer', TEXT: 'text', BLOB: 'bytea' };
      const tables = ['users', 'images', 'templates', 'tasks', 'scan_files', 'template_changes'];
      const sqliteColumns = tables.flatMap((table) =>
        (sqliteDb(sqlite).prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string; notnull: number; pk: number }[]).map(
          (c) => `${table}.${c.name} ${sqliteTypes[c.type]} ${c.notnull || c.pk ? 'not null' : 'null'}`,
        ),
      );
      await sqlite.close();
      const postgresColumns = (
        await database.sql<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
          `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ANY($1)`,
          [tables],
        )
      )
        .filter((c) => !(c.table_name === 'tasks' && c.column_name === 'seq'))
        .map((c) => `${c.table_name}.${c.column_name} ${c.data_type === 'bigint' ? 'integer' : c.data_type} ${c.is_nullable === 'YES' ? 'null' : 'not null'}`);
      expect(postgresColumns.sort()).toEqual(sqliteColumns.sort());
    });

    it('is upgraded from the previous release (version 3, without scan leases and template changes), keeping its rows', async () => {
      const { database, stores } = await replicas(1);
      await storeTask(stores[0], { id: 'task-1', client: 'owner', collection: 'c', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      await database.sql('ALTER TABLE scan_files DROP COLUMN lease_until, DROP COLUMN lease_holder; DROP INDEX scan_files_pending; DROP TABLE template_changes');
      await database.sql('UPDATE schema_version SET version = 3');
      const upgraded = await openReplica(database);
      opened.push(upgraded);
      expect(await upgraded.schemaVersion()).toBe(MIGRATIONS.length);
      expect(await count(database, 'schema_version')).toBe(1);
      expect(await upgraded.scans.claimNext(TEST_LEASE, AT)).toMatchObject({ taskId: 'task-1', name: 'a.jpg' });
    });

    it('is created once when several replicas open a fresh database at the same moment', async () => {
      const database = await createTestDatabase();
      const stores = await Promise.all([1, 2, 3, 4].map(() => openReplica(database)));
      opened.push(...stores);
      expect(await Promise.all(stores.map((store) => store.schemaVersion()))).toEqual(Array(4).fill(MIGRATIONS.length));
      expect(await count(database, 'schema_version')).toBe(1);
    });

    it('is what openStore opens for FACEGATE_DATABASE_URL, with the pool of config store.postgres', async () => {
      const database = await createTestDatabase();
      const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-pg-open-')), FACEGATE_DATABASE_URL: database.url });
      const store = await openStore(config.store);
      opened.push(store as PostgresStore);
      expect(store.backend).toBe('postgres');
      expect(await store.schemaVersion()).toBe(MIGRATIONS.length);
      await store.images.insert('default', image());
      expect(await count(database, 'images')).toBe(1);
    });

    it('keeps what is stored when opened again', async () => {
      const { database, stores } = await replicas(1);
      await stores[0].users.enroll('owner', enrollment('ada', face(0)), async () => undefined);
      await stores[0].close();
      const again = await openReplica(database);
      opened.push(again);
      expect(await again.users.exists('owner', 'ada')).toBe(true);
    });

    it('newer than this build is refused, naming the versions and the database but not the password', async () => {
      const { database } = await replicas(1);
      await database.sql('UPDATE schema_version SET version = $1', [MIGRATIONS.length + 1]);
      const refused = openReplica(database);
      await expect(refused).rejects.toThrow(`database schema version ${MIGRATIONS.length + 1} is newer than this build knows (${MIGRATIONS.length})`);
      await expect(refused).rejects.toThrow(`/${database.name}`);
      const password = new URL(database.url).password;
      await expect(refused).rejects.not.toThrow(password);
    });

    it('an unreachable server fails the open with a message naming the server, not the password', async () => {
      const database = await createTestDatabase();
      const url = new URL(database.url);
      url.port = '1';
      const refused = openReplica({ ...database, url: url.toString() }, { connectTimeoutMs: 2000 });
      await expect(refused).rejects.toThrow(`cannot open the PostgreSQL store at ${url.hostname}:1/${database.name}`);
      await expect(refused).rejects.not.toThrow(url.password);
    });
  });

  describe('enrollment conflicts', () => {
    it('each reason rejects with its EnrollmentConflict and writes nothing', async () => {
      const { database, stores } = await replicas(1);
      const [store] = stores;
      const spare = image();
      await store.images.insert('owner', spare);
      await store.users.enroll('owner', enrollment('ada', face(0), { key: spare.key }), async () => undefined);
      const elsewhere = image();
      await store.images.insert('other', elsewhere);
      const rowsBefore = await Promise.all(['users', 'images', 'templates'].map((table) => count(database, table)));

      await expect(store.users.enroll('owner', enrollment('ada', face(1)), async () => undefined)).rejects.toEqual(new EnrollmentConflict('DUPLICATE_USERNAME'));
      const duplicate = store.users.enroll('owner', enrollment('bo', face(0)), duplicateIn(store, 'owner', face(0)));
      await expect(duplicate).rejects.toEqual(new EnrollmentConflict('FACE_ALREADY_ENROLLED', 'ada'));
      await expect(duplicate).rejects.toHaveProperty('otherUser', 'ada');
      await expect(store.users.enroll('owner', enrollment('bo', face(1), { key: randomUUID() }), async () => undefined)).rejects.toEqual(
        new EnrollmentConflict('UNKNOWN_IMAGE_KEY'),
      );
      // Another client's image is unknown here.
      await expect(store.users.enroll('owner', enrollment('bo', face(1), { key: elsewhere.key }), async () => undefined)).rejects.toEqual(
        new EnrollmentConflict('UNKNOWN_IMAGE_KEY'),
      );
      await expect(store.users.enroll('owner', enrollment('bo', face(1), { key: spare.key }), async () => undefined)).rejects.toEqual(
        new EnrollmentConflict('IMAGE_KEY_TAKEN'),
      );

      expect(await Promise.all(['users', 'images', 'templates'].map((table) => count(database, table)))).toEqual(rowsBefore);
      expect(await store.users.exists('owner', 'bo')).toBe(false);
    });

    it('an enrollment with a stored image owns it and marks it used, keeping an earlier use', async () => {
      const { stores } = await replicas(1);
      const [store] = stores;
      const spare = image();
      await store.images.insert('owner', spare);
      await store.images.markUsed('owner', spare.key, '2026-11-29T05:00:00Z');
      await store.users.enroll('owner', enrollment('ada', face(0), { key: spare.key }), async () => undefined);
      expect(await store.images.isEnrolled('owner', spare.key)).toBe(true);
      expect((await store.images.metadata('owner', spare.key))?.usedAt).toBe('2026-11-29T05:00:00Z');
      expect(await store.users.metadata('owner', 'ada')).toEqual({ username: 'ada', createdAt: AT, templates: [{ ...SPACE, createdAt: AT }], imageKeys: [spare.key] });
      expect(await store.users.templatesOf('owner', 'ada', SPACE)).toEqual([face(0)]);
      expect(await store.users.enrolledOriginals('owner', 'ada')).toEqual([spare.original]);
    });
  });

  describe('two replicas racing', () => {
    it('the same username on both at once: exactly one wins, the other is told the username is taken', async () => {
      for (let round = 0; round < 3; round++) {
        const { database, stores } = await replicas(2);
        const meet = meetingPoint(2, 1000);
        const outcomes = await Promise.allSettled(
          stores.map((store, i) =>
            store.users.enroll('owner', enrollment('ada', face(i)), async () => {
              await meet();
              return duplicateIn(store, 'owner', face(i))();
            }),
          ),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        expect(outcomes.find((o) => o.status === 'rejected')).toEqual({ status: 'rejected', reason: new EnrollmentConflict('DUPLICATE_USERNAME') });
        expect([await count(database, 'users'), await count(database, 'templates'), await count(database, 'images')]).toEqual([1, 1, 1]);
      }
    });

    it('the same face under two usernames at once: exactly one wins, the other is told whose face it is', async () => {
      for (let round = 0; round < 3; round++) {
        const { database, stores } = await replicas(2);
        const meet = meetingPoint(2, 1000);
        const usernames = ['ada', 'bo'];
        const outcomes = await Promise.allSettled(
          stores.map((store, i) =>
            store.users.enroll('owner', enrollment(usernames[i], face(3)), async () => {
              await meet();
              return duplicateIn(store, 'owner', face(3))();
            }),
          ),
        );
        const winner = usernames[outcomes.findIndex((o) => o.status === 'fulfilled')];
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        expect(outcomes.find((o) => o.status === 'rejected')).toEqual({ status: 'rejected', reason: new EnrollmentConflict('FACE_ALREADY_ENROLLED', winner) });
        expect(await database.sql('SELECT username FROM users')).toEqual([{ username: winner }]);
      }
    });

    it('enrollments of different clients do not wait for each other', async () => {
      const { stores } = await replicas(2, { statementTimeoutMs: 5000 });
      // alpha's duplicate check waits for beta's whole enrollment: with one lock for all clients, beta
      // would wait for alpha instead, until its statement timeout fails both.
      const alpha = stores[0].users.enroll('alpha', enrollment('ada', face(0)), async () => {
        await stores[1].users.enroll('beta', enrollment('ada', face(0)), async () => undefined);
        return undefined;
      });
      // beta's change is recorded first, inside alpha's duplicate check.
      await expect(alpha).resolves.toBe(2);
      expect(await stores[0].users.exists('alpha', 'ada')).toBe(true);
      expect(await stores[0].users.exists('beta', 'ada')).toBe(true);
    });

    it('a pool full of enrollments waiting for the client’s lock does not starve the one holding it', async () => {
      const { stores } = await replicas(1, { poolSize: 2, connectTimeoutMs: 10_000 });
      const [store] = stores;
      const embeddings = [0, 1, 2, 3, 4, 5].map(face);
      await Promise.all(
        embeddings.map((embedding, i) =>
          store.users.enroll('owner', enrollment(`user-${i}`, embedding), async () => {
            // The check reads through the store, as the enrollment flow's does, while the others wait for the lock.
            await new Promise((resolve) => setTimeout(resolve, 20));
            return duplicateIn(store, 'owner', embedding)();
          }),
        ),
      );
      expect((await store.users.templates('owner', SPACE)).map((t) => t.username).sort()).toEqual(embeddings.map((_, i) => `user-${i}`));
    });

    it('a username written by a writer that skips the lock is still refused, by the unique constraint', async () => {
      const { database, stores } = await replicas(1);
      const enrolling = stores[0].users.enroll('owner', enrollment('ada', face(0)), async () => {
        await database.sql(`INSERT INTO users (client, username, created_at) VALUES ('owner', 'ada', $1)`, [AT]);
        return undefined;
      });
      await expect(enrolling).rejects.toEqual(new EnrollmentConflict('DUPLICATE_USERNAME'));
      expect([await count(database, 'users'), await count(database, 'templates'), await count(database, 'images')]).toEqual([1, 0, 0]);
    });

    it('work an enrollment started without awaiting it runs outside that transaction once it ended, not in the next one', async () => {
      const { stores } = await replicas(1, { poolSize: 2 });
      const [store] = stores;
      const spare = image();
      await store.images.insert('owner', spare);
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      let stale!: Promise<void>;
      await store.users.enroll('owner', enrollment('ada', face(0)), async () => {
        stale = gate.then(() => store.images.markUsed('owner', spare.key, AT));
        return undefined;
      });
      // The next enrollment most likely gets the connection ada's used; it fails and rolls back.
      const next = store.users.enroll('owner', enrollment('bo', face(1)), async () => {
        openGate();
        await stale;
        return 'someone';
      });
      await expect(next).rejects.toEqual(new EnrollmentConflict('FACE_ALREADY_ENROLLED', 'someone'));
      expect((await store.images.metadata('owner', spare.key))?.usedAt).toBe(AT);
    });

    it('a replica killed while it holds the client’s lock: the other goes on, and nothing of the killed one’s enrollment is stored', async () => {
      const { database, stores } = await replicas(1);
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'postgres-replica.ts')], {
        env: { ...process.env, FACEGATE_REPLICA_URL: database.url },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('holding') && resolve());
          child.once('exit', (code) => reject(new Error(`the replica exited (${code}) before holding the lock`)));
        });
        let enrolled = false;
        const survivor = stores[0].users.enroll('owner', enrollment('ada', face(1)), async () => undefined).then(() => (enrolled = true));
        // The survivor waits for the lock as long as the other replica lives.
        const waiting = `locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
        while (!enrolled && (await count(database, 'pg_locks', waiting)) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(enrolled).toBe(false);
        child.kill('SIGKILL');
        await survivor;
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      expect(await database.sql('SELECT username FROM users')).toEqual([{ username: 'ada' }]);
      expect(await stores[0].users.templatesOf('owner', 'ada', SPACE)).toEqual([face(1)]);
      expect(await count(database, 'images', `key = 'killed-replica-photo'`)).toBe(0);
    });

    it('a replica stuck inside its duplicate check is ended by the server after its statement timeout, releasing the lock', async () => {
      const database = await createTestDatabase();
      // The survivor migrates the fresh database, so that the stuck replica's short timeout bounds its transaction only.
      const survivor = await openReplica(database);
      const stuck = await openReplica(database, { statementTimeoutMs: 1000 });
      opened.push(stuck, survivor);
      let unstick!: () => void;
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const stuckEnrollment = stuck.users.enroll('owner', enrollment('ada', face(0)), () => {
        holding();
        return new Promise<undefined>((resolve) => (unstick = () => resolve(undefined)));
      });
      await held;
      // Without the server's idle-in-transaction timeout this waits for the survivor's own statement timeout (30 s) and fails.
      try {
        await survivor.users.enroll('owner', enrollment('ada', face(1)), async () => undefined);
      } finally {
        unstick();
      }
      await expect(stuckEnrollment).rejects.toThrow('connection error');
      expect(await survivor.users.templatesOf('owner', 'ada', SPACE)).toEqual([face(1)]);
    });

    it('a connection dropped while its enrollment waits for the duplicate check fails that enrollment, not the process', async () => {
      const { database, stores } = await replicas(1);
      const [store] = stores;
      const inTransaction = `datname = current_database() AND application_name = 'facegate' AND state = 'idle in transaction'`;
      const enrolling = store.users.enroll('owner', enrollment('ada', face(0)), async () => {
        await database.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${inTransaction}`);
        // The connection's end reaches the replica while no query of it runs.
        while ((await count(database, 'pg_stat_activity', inTransaction)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
        await new Promise((resolve) => setTimeout(resolve, 100));
        return undefined;
      });
      await expect(enrolling).rejects.toThrow();
      expect(await store.users.exists('owner', 'ada')).toBe(false);
      await store.users.enroll('owner', enrollment('ada', face(0)), async () => undefined);
      expect(await store.users.exists('owner', 'ada')).toBe(true);
    });

    it('a template replacement waits for the client’s enrollment in progress, and two replicas replacing one user take turns', async () => {
      const { database, stores } = await replicas(2);
      const spare = image();
      await stores[0].images.insert('owner', spare);
      await stores[0].users.enroll('owner', enrollment('ada', face(0)), async () => undefined);
      const v2 = { ...SPACE, modelVersion: 'v2' };
      const replace = (store: Store, axis: number) => store.users.replaceTemplates('owner', 'ada', [{ imageKey: spare.key, template: { ...v2, embedding: face(axis) } }], AT);
      const waiting = `locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
      let replaced = false;
      let replacing: Promise<unknown> | undefined;
      await stores[0].users.enroll('owner', enrollment('bo', face(1)), async () => {
        replacing = replace(stores[1], 2).then(() => (replaced = true));
        while (!replaced && (await count(database, 'pg_locks', waiting)) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(replaced).toBe(false);
        return undefined;
      });
      await replacing;
      await Promise.all([replace(stores[0], 3), replace(stores[1], 4)]);
      expect(await stores[0].users.templatesOf('owner', 'ada', v2)).toHaveLength(1);
      expect(await count(database, 'templates')).toBe(2);
    });

    it('a file settled by two replicas at once is counted once', async () => {
      const { stores } = await replicas(2);
      await storeTask(stores[0], { id: 'task-1', client: 'owner', collection: 'c', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      const settled = await Promise.all([
        stores[0].scans.recordProfile('task-1', 0, { file: 'a.jpg' }, null, AT),
        stores[1].scans.recordFailure('task-1', 0, 'late', AT),
        stores[1].scans.recordProfile('task-1', 0, { file: 'a.jpg' }, null, AT),
      ]);
      expect(settled.sort()).toEqual(['finished', 'stale', 'stale']);
      expect(await stores[1].scans.task('owner', 'task-1')).toMatchObject({ processed: 1, status: 'done' });
      expect(await stores[1].scans.claimNext(TEST_LEASE, AT)).toBeUndefined();
    });

    it('replicas claiming at once each get a file of their own, and the one settling the last file finishes the task', async () => {
      const { stores } = await replicas(4);
      const files = Array.from({ length: 12 }, (_, i) => ({ name: `${i}.jpg`, bytes: randomBytes(8) }));
      await storeTask(stores[0], { id: 'task-1', client: 'owner', collection: 'c', createdAt: AT }, files);
      const settled: string[] = [];
      await Promise.all(
        stores.map(async (store, i) => {
          const lease = { holder: `replica-${i}`, seconds: 60 };
          for (let file = await store.scans.claimNext(lease, AT); file; file = await store.scans.claimNext(lease, AT)) {
            settled.push(`${file.name} ${await store.scans.recordProfile(file.taskId, file.position, { file: file.name }, null, AT)}`);
          }
        }),
      );
      expect(settled.filter((s) => s.endsWith('finished'))).toHaveLength(1);
      expect(settled.map((s) => s.split(' ')[0]).sort()).toEqual(files.map((f) => f.name).sort());
      expect(await stores[0].scans.task('owner', 'task-1')).toMatchObject({ status: 'done', processed: 12 });
      expect(await stores[0].scans.profileCount('task-1')).toBe(12);
    });

    it('a replica starting erases only intakes abandoned for an hour, and leaves other replicas\' leases to run out', async () => {
      const { stores } = await replicas(2);
      const now = new Date('2026-11-29T06:30:00Z');
      await stores[0].scans.beginIntake({ id: 'receiving', client: 'owner', collection: 'c1', createdAt: '2026-11-29T06:00:00Z' });
      await stores[0].scans.beginIntake({ id: 'abandoned', client: 'owner', collection: 'c2', createdAt: '2026-11-29T05:00:00Z' });
      await storeTask(stores[0], { id: 'task-1', client: 'owner', collection: 'c3', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      expect(await stores[0].scans.claimNext({ holder: 'replica-0', seconds: 60 }, now.toISOString())).toMatchObject({ taskId: 'task-1' });
      expect(await stores[1].scans.reclaimAbandoned(now)).toBe(2);
      expect(await stores[1].scans.task('owner', 'abandoned')).toBeUndefined();
      expect(await stores[1].scans.task('owner', 'receiving')).toMatchObject({ status: 'pending', total: 0 });
      expect(await stores[1].scans.task('owner', 'task-1')).toMatchObject({ status: 'running' });
      expect(await stores[1].scans.claimNext({ holder: 'replica-1', seconds: 60 }, now.toISOString())).toBeUndefined();
    });
  });

  describe('sealing at rest', () => {
    const sealer = () => Sealer.fromKeyText(TEST_ENCRYPTION_KEY);

    it('stores images, templates and scan files sealed to their row, and reads them back', async () => {
      const { database, stores } = await replicas(1, { sealer: sealer() });
      const [store] = stores;
      const photo = image(randomUUID(), 4096);
      await store.users.enroll('owner', enrollment('ada', face(0), { upload: photo }), async () => undefined);
      const scanned = randomBytes(64);
      await storeTask(store, { id: 'task-1', client: 'owner', collection: 'c', createdAt: AT }, [{ name: 'a.jpg', bytes: scanned }]);
      const rows = await database.sql<{ original: Buffer; cropped: Buffer; embedding: Buffer; content: Buffer }>(
        'SELECT i.original, i.cropped, t.embedding, f.content FROM images i, templates t, scan_files f',
      );
      for (const blob of Object.values(rows[0])) expect(blob.subarray(0, 4).toString('latin1')).toBe('FGE2');
      expect(rows[0].original.includes(photo.original.subarray(0, 64))).toBe(false);
      expect(await store.images.original('owner', photo.key)).toEqual(photo.original);
      expect(await store.users.templatesOf('owner', 'ada', SPACE)).toEqual([face(0)]);
      expect((await store.scans.claimNext(TEST_LEASE, AT))?.bytes).toEqual(scanned);
    });

    it('refuses a blob moved to another row, one stored in clear, and sealed data read without the key', async () => {
      const { database, stores } = await replicas(1, { sealer: sealer() });
      const [store] = stores;
      const [first, second] = [image(), image()];
      await store.images.insert('owner', first);
      await store.images.insert('owner', second);
      await database.sql('UPDATE images SET original = (SELECT original FROM images WHERE key = $1) WHERE key = $2', [first.key, second.key]);
      await expect(store.images.original('owner', second.key)).rejects.toThrow(`images:${second.key}:original does not open`);
      await database.sql('UPDATE images SET original = $1 WHERE key = $2', [Buffer.from('in clear, written around the store'), second.key]);
      await expect(store.images.original('owner', second.key)).rejects.toThrow(`images:${second.key}:original is stored in clear although FACEGATE_ENCRYPTION_KEY is set`);
      const keyless = await openReplica(database);
      opened.push(keyless);
      await expect(keyless.images.original('owner', first.key)).rejects.toThrow('is encrypted: set FACEGATE_ENCRYPTION_KEY to read it');
    });
  });

  // Tenant isolation and reset scopes: the contract suite, which postgres.contract.test.ts runs here too.

  describe('erasure', () => {
    /** Dead row versions left in the table and in its TOAST table (where large blobs go), counted exactly by pgstattuple. */
    async function deadTuples(database: TestDatabase, table: string): Promise<number> {
      const [row] = await database.sql<{ heap: string; toast: string }>(
        `SELECT (pgstattuple($1::regclass)).dead_tuple_count AS heap,
                (pgstattuple((SELECT reltoastrelid FROM pg_class WHERE oid = $1::regclass))).dead_tuple_count AS toast`,
        [table],
      );
      return Number(row.heap) + Number(row.toast);
    }

    async function erasureStore() {
      const { database, stores } = await replicas(1);
      await database.sql('CREATE EXTENSION IF NOT EXISTS pgstattuple');
      return { database, store: stores[0] };
    }

    it('deleting a user leaves no dead row of theirs in users, images (with its large originals) or templates', async () => {
      const { database, store } = await erasureStore();
      await store.users.enroll('owner', enrollment('ada', face(0), { upload: image(randomUUID(), 20_000) }), async () => undefined);
      await store.users.enroll('owner', enrollment('bo', face(1), { upload: image(randomUUID(), 20_000) }), async () => undefined);
      expect(await store.users.delete('owner', 'ada')).toBe(true);
      expect(await store.users.exists('owner', 'ada')).toBe(false);
      expect(await Promise.all(['users', 'images', 'templates'].map((table) => deadTuples(database, table)))).toEqual([0, 0, 0]);
      expect(await store.users.exists('owner', 'bo')).toBe(true);
    });

    it('a database user that does not own the tables cannot erase without the VACUUM: the deletion fails, saying why', async () => {
      const { database, store } = await erasureStore();
      await store.users.enroll('owner', enrollment('ada', face(0)), async () => undefined);
      const role = `facegate_writer_${randomBytes(4).toString('hex')}`;
      await database.sql(`CREATE ROLE ${role} LOGIN PASSWORD 'writer-password'`);
      await database.sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      const url = new URL(database.url);
      url.username = role;
      url.password = 'writer-password';
      const writer = await openReplica({ ...database, url: url.toString() });
      try {
        await expect(writer.users.delete('owner', 'ada')).rejects.toThrow(/VACUUM after an erasure did not run: .*only table or database owner can vacuum it/);
      } finally {
        await writer.close();
        await database.sql(`DROP OWNED BY ${role}`);
        await database.sql(`DROP ROLE ${role}`);
      }
    });

    it('a reset leaves no dead row in any table', async () => {
      const { database, store } = await erasureStore();
      await store.users.enroll('owner', enrollment('ada', face(0), { upload: image(randomUUID(), 20_000) }), async () => undefined);
      await storeTask(store, { id: 'task-1', client: 'owner', collection: 'c', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(20_000) }]);
      await store.reset({ client: 'owner' });
      expect(await Promise.all(['users', 'images', 'templates', 'tasks', 'scan_files'].map((table) => deadTuples(database, table)))).toEqual([0, 0, 0, 0, 0]);
    });

    it('retention erases unenrolled images before the cutoff, and finished scans, leaving no dead row', async () => {
      const { database, store } = await erasureStore();
      const old = { ...image(randomUUID(), 20_000), createdAt: '2026-11-28T06:00:00Z' };
      const recent = image();
      await store.images.insert('owner', old);
      await store.images.insert('owner', recent);
      await store.users.enroll('owner', enrollment('ada', face(0), { upload: { ...image(), createdAt: '2026-11-28T06:00:00Z' } }), async () => undefined);
      expect(await store.images.eraseUnenrolledBefore(new Date('2026-11-29T00:00:00Z'))).toBe(1);
      expect(await store.images.metadata('owner', old.key)).toBeUndefined();
      expect(await store.images.metadata('owner', recent.key)).toBeDefined();
      expect(await count(database, 'images')).toBe(2);
      expect(await deadTuples(database, 'images')).toBe(0);

      await storeTask(store, { id: 'done', client: 'owner', collection: 'c1', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      await storeTask(store, { id: 'running', client: 'owner', collection: 'c2', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      await store.scans.recordProfile('done', 0, { file: 'a.jpg' }, null, '2026-11-29T06:30:00.000Z');
      expect(await store.scans.eraseFinishedBefore(new Date('2026-11-29T07:00:00Z'))).toBe(1);
      expect((await store.scans.unfinished()).map((t) => t.id)).toEqual(['running']);
      expect(await Promise.all(['tasks', 'scan_files'].map((table) => deadTuples(database, table)))).toEqual([0, 0]);
    });
  });

  describe('scans', () => {
    it('a claim counts the attempt; a settled file is claimed no more; profiles page in upload order', async () => {
      const { stores } = await replicas(1);
      const [store] = stores;
      const files = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'].map((name) => ({ name, bytes: randomBytes(8) }));
      await storeTask(store, { id: 'task-1', client: 'owner', collection: 'c', createdAt: AT }, files);
      expect(await store.scans.claimNext(TEST_LEASE, AT)).toEqual({ taskId: 'task-1', client: 'owner', position: 0, name: 'a.jpg', bytes: files[0].bytes, attempts: 1 });
      const thumbnail = randomBytes(16);
      for (const position of [0, 1, 3]) await store.scans.recordProfile('task-1', position, { file: files[position].name, score: position }, position === 1 ? thumbnail : null, AT);
      await store.scans.recordFailure('task-1', 2, 'no face', '2026-11-29T06:01:00Z');
      expect(await store.scans.claimNext(TEST_LEASE, '2026-11-29T08:00:00Z')).toBeUndefined();
      expect(await store.scans.profileCount('task-1')).toBe(3);
      expect((await store.scans.profiles('task-1')).map((p) => p.position)).toEqual([0, 1, 3]);
      expect(await store.scans.profiles('task-1', 1, 1)).toEqual([{ position: 1, name: 'b.jpg', profile: { file: 'b.jpg', score: 1 } }]);
      expect(await store.scans.errors('task-1')).toEqual([{ file: 'c.jpg', error: 'no face' }]);
      expect(await store.scans.thumbnail('task-1', 1)).toEqual(thumbnail);
      expect(await store.scans.thumbnail('task-1', 0)).toBeUndefined();
      expect(await store.scans.task('owner', 'task-1')).toMatchObject({ status: 'done', processed: 4, total: 4, updatedAt: '2026-11-29T06:01:00Z' });
    });

    it('tasks keep their intake order, incomplete intakes are erased, a collection is deleted with its files', async () => {
      const { database, stores } = await replicas(1);
      const [store] = stores;
      for (const id of ['t-b', 't-a', 't-c']) await storeTask(store, { id, client: 'owner', collection: id, createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      await store.scans.beginIntake({ id: 'cut-short', client: 'owner', collection: 'x', createdAt: AT });
      await store.scans.addFiles('cut-short', 0, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
      expect(await store.scans.reclaimAbandoned(new Date('2026-11-29T08:00:00Z'))).toBe(3);
      expect(await store.scans.task('owner', 'cut-short')).toBeUndefined();
      expect((await store.scans.claimNext(TEST_LEASE, '2026-11-29T06:05:00Z'))?.taskId).toBe('t-b');
      await store.scans.fail('t-c', 'models gone', '2026-11-29T06:06:00Z');
      expect((await store.scans.unfinished()).map((t) => [t.id, t.status])).toEqual([
        ['t-b', 'running'],
        ['t-a', 'pending'],
      ]);
      expect(await store.scans.task('owner', 't-c')).toEqual({
        id: 't-c',
        client: 'owner',
        collection: 't-c',
        status: 'failed',
        total: 1,
        processed: 0,
        failure: 'models gone',
        createdAt: AT,
        updatedAt: '2026-11-29T06:06:00Z',
        startedAt: null,
        startedProcessed: 0,
        finishedAt: '2026-11-29T06:06:00Z',
      });
      expect(await store.scans.deleteCollection('owner', 't-b')).toBe(true);
      expect(await count(database, 'scan_files')).toBe(2);
    });
  });

  describe('health', () => {
    it('is writable, and not once the database refuses writes or the store is closed', async () => {
      const { database, stores } = await replicas(1);
      expect(await stores[0].isWritable()).toBe(true);
      expect(await database.sql('SELECT version FROM schema_version')).toEqual([{ version: MIGRATIONS.length }]);
      await database.sql(`ALTER DATABASE ${database.name} SET default_transaction_read_only = on`);
      const readOnly = await openReplica(database);
      opened.push(readOnly);
      expect(await readOnly.isWritable()).toBe(false);
      await stores[0].close();
      expect(await stores[0].isWritable()).toBe(false);
    });

    it('connections the server drops while idle are reported and replaced; the replica goes on', async () => {
      const database = await createTestDatabase();
      const dropped: Error[] = [];
      let allReported!: () => void;
      const reported = new Promise<void>((resolve) => (allReported = resolve));
      let terminated = Infinity;
      const store = await openReplica(database, {
        onIdleError: (error) => {
          dropped.push(error);
          if (dropped.length === terminated) allReported();
        },
      });
      opened.push(store);
      await Promise.all([0, 1, 2].map((axis) => store.users.enroll(`client-${axis}`, enrollment('ada', face(axis)), async () => undefined)));
      const rows = await database.sql<{ pid: number }>(`SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'facegate'`, [
        database.name,
      ]);
      terminated = rows.length;
      if (dropped.length === terminated) allReported();
      // Capped so that a connection never reported fails the test here rather than at jest's timeout.
      await Promise.race([reported, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      expect(terminated).toBeGreaterThan(0);
      expect(dropped).toHaveLength(terminated);
      expect(dropped[0].message).toMatch(/terminat/);
      expect(await store.users.exists('client-1', 'ada')).toBe(true);
      expect(await store.isWritable()).toBe(true);
    });
  });
});
