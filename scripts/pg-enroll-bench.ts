/**
 * Enrollment throughput of the PostgreSQL store: one replica against two (two pools, as two processes
 * have, though here in one Node process), all enrollments of one client (they take turns on the
 * client's lock) against enrollments spread over eight clients (they do not wait for each other).
 * Each enrollment stores a 60 KB photo, its crop and a 512-float template, sealed; the duplicate
 * check answers at once (the in-memory index's cost is bench:store's). Needs a server:
 *
 *   eval "$(scripts/pg-test-cluster.sh start)"
 *   nice -n 5 npx tsx scripts/pg-enroll-bench.ts [--enrollments N] [--in-flight K]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { openPostgresStore, type PostgresStore } from '../src/store/postgres';
import { Sealer } from '../src/store/sealer';

const { values } = parseArgs({ options: { enrollments: { type: 'string', default: '400' }, 'in-flight': { type: 'string', default: '8' } } });
const ENROLLMENTS = Number(values.enrollments);
const IN_FLIGHT = Number(values['in-flight']);
const SERVER_URL = process.env.FACEGATE_TEST_DATABASE_URL;

async function onServer(sql: string): Promise<void> {
  const client = new Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function run(stores: PostgresStore[], clients: number): Promise<string> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async (lane: number) => {
    for (let i = next++; i < ENROLLMENTS; i = next++) {
      const createdAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const upload = { key: randomUUID(), contentType: 'image/jpeg', fileSize: 61_440, width: 640, height: 480, createdAt, original: randomBytes(61_440), cropped: randomBytes(8_192), analysis: '{}' };
      const template = { model: 'fr-feature', modelVersion: 'v1', embedding: Float32Array.from({ length: 512 }, () => Math.random() - 0.5) };
      const t = performance.now();
      await stores[lane % stores.length].users.enroll(`client-${i % clients}`, { username: `user-${i}`, createdAt, image: { upload }, template }, async () => undefined);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, lane) => worker(lane)));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return `${(ENROLLMENTS / seconds).toFixed(0).padStart(8)} | ${percentile(latencies, 0.5).toFixed(1).padStart(7)} | ${percentile(latencies, 0.99).toFixed(1).padStart(7)}`;
}

async function main(): Promise<void> {
  if (!SERVER_URL) throw new Error('set FACEGATE_TEST_DATABASE_URL: eval "$(scripts/pg-test-cluster.sh start)"');
  console.log(`${ENROLLMENTS} enrollments per row, ${IN_FLIGHT} in flight, sealed at rest\n`);
  console.log('replicas | clients | enroll/s | p50 ms  | p99 ms');
  console.log('---------|---------|----------|---------|--------');
  for (const replicas of [1, 2]) {
    for (const clients of [1, 8]) {
      const name = `facegate_bench_${randomBytes(4).toString('hex')}`;
      await onServer(`CREATE DATABASE ${name}`);
      const url = new URL(SERVER_URL);
      url.pathname = `/${name}`;
      const sealer = Sealer.fromKeyText(randomBytes(32).toString('hex'));
      const stores: PostgresStore[] = [];
      for (let i = 0; i < replicas; i++) {
        stores.push(await openPostgresStore({ url: url.toString(), sealer, poolSize: IN_FLIGHT, statementTimeoutMs: 60_000, connectTimeoutMs: 10_000 }));
      }
      try {
        console.log(`${String(replicas).padStart(8)} | ${String(clients).padStart(7)} | ${await run(stores, clients)}`);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
        await onServer(`DROP DATABASE ${name} WITH (FORCE)`);
      }
    }
  }
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exitCode = 1;
});
