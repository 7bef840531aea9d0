/**
 * `npm run crash [-- --kills N]`: kills the built server with SIGKILL at random moments while it
 * takes enrollments, QI Tech uploads and resets, restarts it on the same data folder, and checks
 * after every kill: `PRAGMA integrity_check` is ok, no user is half-enrolled (a user without a
 * template or an image), every write acknowledged with a 2xx is there, and a reset cut short left
 * all or nothing. Needs the shared photo set (real faces pass the gate; synthetic ones do not).
 */
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { faceManifest, facePath, facesAvailable, FACES_DIR, isCleanFrontal } from '../../eval/dataset';
import { freePort, scratchDataDir, startBuiltServer } from '../../bench/built-server';
import { argValue } from '../../bench/stats';

const KEY = 'crash-user-key-0123456789';
const ADMIN = 'crash-admin-key-0123456789';

interface Acknowledged {
  users: Set<string>;
  images: Set<string>;
}

/** The built server on the crash test's data folder and port, with its user and admin keys. */
async function start(dataDir: string, configFile: string, port: number): Promise<ChildProcess> {
  const env = { FACEGATE_DATA_DIR: dataDir, FACEGATE_CONFIG: configFile, FACEGATE_API_KEYS: KEY, FACEGATE_ADMIN_KEYS: ADMIN, FACEGATE_LOG_LEVEL: 'error' };
  return (await startBuiltServer(env, { port })).child;
}

async function upload(base: string, photo: Buffer): Promise<string | undefined> {
  const res = await fetch(`${base}/face_recognition/image`, {
    method: 'POST',
    headers: { authorization: KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ image: photo.toString('base64') }),
  }).catch(() => undefined);
  return res?.status === 201 ? ((await res.json()) as { image_key: string }).image_key : undefined;
}

interface Photos {
  /** Portraits that pass the enrollment gate. */
  enroll: Buffer[];
  /** Those that also pass QI Tech's photo rules. */
  upload: Buffer[];
}

/** Sends enrollments and uploads until `stop` resolves; records what was acknowledged. */
async function load(base: string, photos: Photos, acked: Acknowledged, cycle: number, stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const pick = (from: Buffer[]) => from[Math.floor(Math.random() * from.length)];
  const enrolls = async () => {
    for (let i = 0; !stopped; i++) {
      const username = `c${cycle}u${i}`;
      const form = new FormData();
      form.append('cin_file', new Blob([pick(photos.enroll)]), 'photo.jpg');
      const res = await fetch(`${base}/api/enroll?username=${username}`, { method: 'POST', headers: { authorization: KEY }, body: form }).catch(() => undefined);
      if (res?.status === 200 && ((await res.json()) as { EnrollStatus: string }).EnrollStatus === 'APPROVED') acked.users.add(username);
    }
  };
  const uploads = async () => {
    while (!stopped) {
      const key = await upload(base, pick(photos.upload));
      if (key) acked.images.add(key);
    }
  };
  await Promise.all([enrolls(), uploads(), uploads()]);
}

interface Findings {
  integrity: string;
  halfEnrolled: number;
  missingUsers: string[];
  missingImages: string[];
  users: number;
  images: number;
}

function inspect(dataDir: string, acked: Acknowledged): Findings {
  const db = new Database(join(dataDir, 'facegate.db'));
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const halfEnrolled = (
      db
        .prepare(
          `SELECT COUNT(*) AS n FROM users u
           WHERE NOT EXISTS (SELECT 1 FROM templates t WHERE t.user_id = u.id) OR NOT EXISTS (SELECT 1 FROM images i WHERE i.user_id = u.id)`,
        )
        .get() as { n: number }
    ).n;
    const hasUser = db.prepare('SELECT 1 FROM users WHERE username = ?');
    const hasImage = db.prepare('SELECT 1 FROM images WHERE key = ?');
    return {
      integrity,
      halfEnrolled,
      missingUsers: [...acked.users].filter((u) => !hasUser.get(u)),
      missingImages: [...acked.images].filter((k) => !hasImage.get(k)),
      users: (db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n,
      images: (db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n,
    };
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  if (!facesAvailable) throw new Error(`needs the shared photo set in ${FACES_DIR}: synthetic faces do not pass the gate, so nothing would be written`);
  const kills = argValue('kills', 100);
  const portraits = faceManifest().filter(isCleanFrontal).map((r) => readFileSync(facePath(r.file)));
  // Every photo may be enrolled again under a new name.
  const { dataDir, configFile } = scratchDataDir('facegate-crash-', { recognition: { duplicateSearch: false } });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const acked: Acknowledged = { users: new Set(), images: new Set() };
  const totals = { resets: 0, resetsCut: 0, failures: 0 };
  const first = await start(dataDir, configFile, port);
  const photos: Photos = { enroll: portraits, upload: [] };
  for (const portrait of portraits) {
    const key = await upload(base, portrait);
    if (key) {
      acked.images.add(key);
      photos.upload.push(portrait);
    }
  }
  first.kill('SIGTERM');
  await new Promise((resolve) => first.once('exit', resolve));
  console.log(`${kills} kills; data in ${dataDir}; ${portraits.length} portraits, ${photos.upload.length} of them pass QI Tech's rules`);

  for (let cycle = 1; cycle <= kills; cycle++) {
    const server = await start(dataDir, configFile, port);
    const killAfter = 200 + Math.random() * 2500;
    const resetCut = Math.random() < 0.1;
    let resetAcked = false;
    if (resetCut) {
      totals.resets++;
      // The kill comes before the reset starts, while it runs, or after it is done.
      void fetch(`${base}/api/reset`, { method: 'POST', headers: { authorization: ADMIN } }).then((r) => (resetAcked = r.ok), () => undefined);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 300));
    } else {
      const stop = new Promise<void>((resolve) => setTimeout(resolve, killAfter));
      void load(base, photos, acked, cycle, stop);
      await stop;
    }
    server.kill('SIGKILL');
    await new Promise((resolve) => server.once('exit', resolve));

    const before = { users: acked.users.size, images: acked.images.size };
    const found = inspect(dataDir, acked);
    if (resetCut) {
      const wiped = found.users === 0 && found.images === 0;
      const kept = found.missingUsers.length === 0 && found.missingImages.length === 0;
      if (!wiped && !kept) {
        totals.failures++;
        console.log(`cycle ${cycle}: a reset cut short left part of the data: ${JSON.stringify(found)}`);
      }
      if (resetAcked && !wiped) {
        totals.failures++;
        console.log(`cycle ${cycle}: a reset was acknowledged, yet data remains: ${JSON.stringify(found)}`);
      }
      if (wiped || resetAcked) {
        acked.users.clear();
        acked.images.clear();
      } else {
        totals.resetsCut++;
      }
    }
    const problems = [
      found.integrity !== 'ok' && `integrity_check: ${found.integrity}`,
      found.halfEnrolled > 0 && `${found.halfEnrolled} half-enrolled users`,
      !resetCut && found.missingUsers.length > 0 && `acknowledged enrollments missing: ${found.missingUsers.join(', ')}`,
      !resetCut && found.missingImages.length > 0 && `acknowledged uploads missing: ${found.missingImages.join(', ')}`,
    ].filter(Boolean);
    if (problems.length > 0) totals.failures++;
    console.log(
      `kill ${String(cycle).padStart(3)} ${resetCut ? `during a reset (${resetAcked ? 'acknowledged' : 'not acknowledged'})` : `after ${killAfter.toFixed(0)} ms of load`}: ` +
        `${found.users} users, ${found.images} images, ${before.users} + ${before.images} acknowledged writes checked; ${problems.length === 0 ? 'ok' : problems.join('; ')}`,
    );
  }
  console.log(
    `\n${kills} kills (${totals.resets} during or after a reset, ${totals.resetsCut} of them before it took effect): ` +
      `${acked.users.size} enrollments and ${acked.images.size} uploads acknowledged since the last reset, all checked after every kill; ` +
      `${totals.failures === 0 ? 'no problem found' : `${totals.failures} kills with problems`}`,
  );
  if (totals.failures > 0) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
