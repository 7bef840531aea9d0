import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scaledTo } from '../../eval/transforms';
import { PROJECT_ROOT } from '../../src/config';
import { describeWithFaces, faceManifest, facePath } from '../helpers/faces';
import { createTestDatabase, describeWithPostgres, dropTestDatabases } from './postgres-database';

const KEY = 'replica-test-key-0123456789';
const ADMIN_KEY = 'replica-admin-key-0123456789';

interface Replica {
  child: ChildProcess;
  url: string;
  exit: Promise<unknown>;
}

/**
 * src/server.ts as a process of its own on the shared database, with its own data folder and port;
 * models on the main thread; `config` merged over config/default.json.
 */
async function startReplica(databaseUrl: string, config: object = {}): Promise<Replica> {
  const dataDir = mkdtempSync(join(tmpdir(), 'facegate-replica-'));
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'server.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      FACEGATE_PORT: '0',
      FACEGATE_HOST: '127.0.0.1',
      FACEGATE_WORKERS: '0',
      FACEGATE_API_KEYS: KEY,
      FACEGATE_ADMIN_KEYS: ADMIN_KEY,
      FACEGATE_DATABASE_URL: databaseUrl,
      FACEGATE_DATA_DIR: dataDir,
      FACEGATE_CONFIG: join(dataDir, 'config.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) resolve((JSON.parse(line) as { address: { port: number } }).address.port);
    });
    child.once('exit', () => reject(new Error(`the replica exited: ${err}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, exit };
}

async function enroll(replica: Replica, username: string, photo: Buffer): Promise<{ status: number; reason: string }> {
  const form = new FormData();
  form.append('cin_file', new Blob([photo], { type: 'image/jpeg' }), 'cin.jpg');
  const answer = await fetch(`${replica.url}/api/enroll?username=${username}`, { method: 'POST', headers: { Authorization: KEY }, body: form });
  return { status: answer.status, reason: ((await answer.json()) as { DecisionReason: string }).DecisionReason };
}

async function authenticate(replica: Replica, username: string, photo: Buffer): Promise<string> {
  const form = new FormData();
  form.append('auth_video', new Blob([photo], { type: 'image/jpeg' }), 'probe.jpg');
  const answer = await fetch(`${replica.url}/api/authentificate?username=${username}`, { method: 'POST', headers: { Authorization: KEY }, body: form });
  return ((await answer.json()) as { Decision: string }).Decision;
}

/**
 * Two server processes on one PostgreSQL database, behind nothing: the races of issue 21 sent to
 * both at once through the HTTP API, and an enrollment on one replica used on the other. The
 * store-level tests (postgres.test.ts) are what fail without the lock; this one checks the wiring.
 */
describeWithPostgres('two replicas on one PostgreSQL database', () => {
  describeWithFaces('enroll and authenticate through either', () => {
    const replicas: Replica[] = [];
    const photo = (file: string) => scaledTo(readFileSync(facePath(file)), 1024);

    beforeAll(async () => {
      const database = await createTestDatabase();
      // One after the other: the second finds the schema the first created.
      replicas.push(await startReplica(database.url));
      replicas.push(await startReplica(database.url));
    });

    afterAll(async () => {
      for (const replica of replicas) {
        replica.child.kill('SIGTERM');
        await replica.exit;
      }
      await dropTestDatabases();
    });

    /** Who enrolled matt's face in the first race. */
    let mattsName = '';

    it('one face under two usernames on both at once: exactly one enrolls, the other is told the face is enrolled', async () => {
      const usernames = ['matt', 'matthew'];
      const photos = await Promise.all(['deepface_img29.jpg', 'deepface_img30.jpg'].map(photo));
      const answers = await Promise.all(replicas.map((replica, i) => enroll(replica, usernames[i], photos[i])));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
      expect(answers.map((a) => a.reason).sort()).toEqual(['ENROLLED_AS_USER', 'FACE_ALREADY_ENROLLED']);
      mattsName = usernames[answers.findIndex((a) => a.status === 200)];
    });

    it('one username on both at once: exactly one enrolls, the other is told the username is taken', async () => {
      const bytes = await photo('deepface_img2.jpg');
      const answers = await Promise.all(replicas.map((replica) => enroll(replica, 'angelina', bytes)));
      expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
      expect(answers.map((a) => a.reason).sort()).toEqual(['DUPLICATE_USERNAME', 'ENROLLED_AS_USER']);
    });

    it('a face enrolled through one replica is found by the other’s duplicate check, whichever enrolled it', async () => {
      const other = replicas[mattsName === 'matt' ? 1 : 0];
      expect(await enroll(other, 'matt_again', await photo('deepface_img31.jpg'))).toEqual({ status: 409, reason: 'FACE_ALREADY_ENROLLED' });
      const angelina = await photo('deepface_img2.jpg');
      for (const replica of replicas) expect(await enroll(replica, 'angie', angelina)).toEqual({ status: 409, reason: 'FACE_ALREADY_ENROLLED' });
    });

    it('a user enrolled through one replica authenticates through either', async () => {
      const probe = await photo('deepface_img31.jpg');
      expect(await Promise.all(replicas.map((replica) => authenticate(replica, mattsName, probe)))).toEqual(['APPROVED', 'APPROVED']);
    });
  });

  describeWithFaces('a scan shared by both, one killed midway', () => {
    const replicas: Replica[] = [];
    let database: Awaited<ReturnType<typeof createTestDatabase>>;
    /** Short leases, so that the killed replica's files are taken again within the test; quick polls, so that the replica that did not receive the upload joins at once. */
    const queue = { scan: { leaseSeconds: 5, pollMs: 200 } };

    beforeAll(async () => {
      database = await createTestDatabase();
      replicas.push(await startReplica(database.url, queue));
      replicas.push(await startReplica(database.url, queue));
    });

    afterAll(async () => {
      for (const replica of replicas) {
        replica.child.kill('SIGTERM');
        await replica.exit;
      }
      await dropTestDatabases();
    });

    const get = async (replica: Replica, path: string) => (await fetch(`${replica.url}${path}`, { headers: { Authorization: KEY } })).json();
    /** Files of scans this replica has settled, from its /metrics. */
    async function scannedBy(replica: Replica): Promise<number> {
      const text = await (await fetch(`${replica.url}/metrics`, { headers: { Authorization: ADMIN_KEY } })).text();
      return [...text.matchAll(/^facegate_scan_files_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    }
    const pause = () => new Promise((resolve) => setTimeout(resolve, 100));

    it('both replicas take files of one upload; the files of the one killed are taken again by the other; every file is profiled once', async () => {
      const photos = faceManifest()
        .filter((r) => r.face_count === 1)
        .slice(0, 24);
      const form = new FormData();
      for (const row of photos) form.append('files', new Blob([await scaledTo(readFileSync(facePath(row.file)), 640)], { type: 'image/jpeg' }), row.file);
      const [killed, survivor] = replicas;
      const upload = await fetch(`${killed.url}/scan/uploaded`, { method: 'POST', headers: { Authorization: KEY }, body: form });
      expect(upload.status).toBe(202);
      const { tid, collection } = (await upload.json()) as { tid: string; collection: string };

      // Both take files; the replica that received the upload is killed while it holds a file and the task is far from done.
      const holders = async () =>
        (await database.sql<{ n: number }>(`SELECT COUNT(DISTINCT lease_holder)::integer AS n FROM scan_files WHERE status = 'pending' AND lease_holder IS NOT NULL`))[0].n;
      while ((await scannedBy(killed)) < 2 || (await scannedBy(survivor)) < 1 || (await holders()) < 2) await pause();
      killed.child.kill('SIGKILL');
      await killed.exit;
      const before = (await get(survivor, `/task/${tid}`)) as { status: string; processed: number };
      expect(before.status).toBe('running');
      expect(before.processed).toBeLessThan(photos.length - 2);

      let task = (await get(survivor, `/task/${tid}`)) as { status: string; processed: number; total: number; errors: unknown[] };
      while (task.status === 'running') {
        await pause();
        task = (await get(survivor, `/task/${tid}`)) as typeof task;
      }
      expect(task).toMatchObject({ status: 'done', processed: photos.length, total: photos.length, errors: [] });
      const profiles = (await get(survivor, `/scan/${collection}/profiles`)) as { file: string }[];
      expect(profiles.map((p) => p.file).sort()).toEqual(photos.map((r) => r.file).sort());
      // What the killed replica held when it died was analysed again by the survivor, the attempt counted.
      const attempts = await database.sql<{ attempts: number; n: number }>(`SELECT attempts, COUNT(*)::integer AS n FROM scan_files GROUP BY attempts ORDER BY attempts`);
      expect(attempts).toEqual([
        { attempts: 1, n: photos.length - 1 },
        { attempts: 2, n: 1 },
      ]);
    });
  });
});
