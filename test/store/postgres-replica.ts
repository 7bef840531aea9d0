/**
 * A replica process for test/store/postgres.test.ts: opens a PostgresStore on FACEGATE_REPLICA_URL,
 * starts enrolling `ada` for client `owner`, and stops inside the duplicate check, holding the
 * client's lock, after printing "holding" — until it is killed.
 */
import { openPostgresStore } from '../../src/store/postgres';
import { Sealer } from '../../src/store/sealer';

async function main(): Promise<void> {
  const store = await openPostgresStore({ url: process.env.FACEGATE_REPLICA_URL!, sealer: Sealer.plain(), poolSize: 2, statementTimeoutMs: 60_000, connectTimeoutMs: 5_000 });
  const upload = { key: 'killed-replica-photo', contentType: 'image/jpeg', fileSize: 4, width: 4, height: 4, createdAt: '2026-11-29T06:00:00Z', original: Buffer.from('dead'), cropped: Buffer.from('x'), analysis: '{}' };
  await store.users.enroll(
    'owner',
    { username: 'ada', createdAt: upload.createdAt, image: { upload }, template: { model: 'fr-feature', modelVersion: 'v1', embedding: new Float32Array(8).fill(0.5) } },
    () => {
      process.stdout.write('holding\n');
      return new Promise<undefined>(() => undefined);
    },
  );
}

void main();
