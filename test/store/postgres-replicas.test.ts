import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scaledTo } from '../../eval/transforms';
import { PROJECT_ROOT } from '../../src/config';
import { describeWithFaces, facePath } from '../helpers/faces';
import { createTestDatabase, describeWithPostgres, dropTestDatabases } from './postgres-database';

const KEY = 'replica-test-key-0123456789';

interface Replica {
  child: ChildProcess;
  url: string;
  exit: Promise<unknown>;
}

/** src/server.ts as a process of its own on the shared database, with its own data folder and port; models on the main thread. */
async function startReplica(databaseUrl: string): Promise<Replica> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'src', 'server.ts')], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      FACEGATE_PORT: '0',
      FACEGATE_HOST: '127.0.0.1',
      FACEGATE_WORKERS: '0',
      FACEGATE_API_KEYS: KEY,
      FACEGATE_DATABASE_URL: databaseUrl,
      FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-replica-')),
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
});
