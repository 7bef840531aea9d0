/**
 * The store side of `npm run bench:store`: enrollments through a real store whose duplicate check
 * does what the service's does (src/service/enrollment.ts): under the client's lock, catch up with
 * the template change feed, then search the index. Used for one backend in this process
 * (`enrollThroughput`), and by bench/store-replica-process.ts for each replica.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { type DuplicateIndexConfig } from '../src/config';
import { KeyedLock } from '../src/keyed-lock';
import { DuplicateSearch, type TemplateIndex } from '../src/service/duplicate-search';
import { TemplateFeed } from '../src/service/template-feed';
import { EnrollmentConflict, openStore, type Store } from '../src/store';
import { Sealer } from '../src/store/sealer';

export const BENCH_SPACE = { model: 'fr-feature', modelVersion: 'bench' };
const PHOTO_BYTES = 61_440;
const CROP_BYTES = 8_192;

export interface EnrollFigures {
  enrollments: number;
  seconds: number;
  /** Milliseconds per enrollment, from its start to its commit. */
  latency: number[];
}

/**
 * One process's enrollment path: its feed and duplicate search over `store`. `searched`, when
 * given, is the index of N synthetic templates the new face is searched in (and joins); without
 * it the search is the feed's own index of the client, read from the store.
 */
export function enrollmentPath(store: Store, indexConfig: DuplicateIndexConfig, searched?: TemplateIndex) {
  const search = new DuplicateSearch(indexConfig, (client) => store.users.templates(client, BENCH_SPACE));
  const feed = new TemplateFeed(store.users, BENCH_SPACE, search);
  const turns = new KeyedLock();
  return {
    /** Reads the feed's starting point, as the service does at start-up. */
    start: () => feed.catchUp(),
    /** One enrollment of `username` of `client` with `embedding` and a fresh sealed photo; false when refused as a duplicate. */
    async enroll(client: string, username: string, embedding: Float32Array, threshold: number): Promise<boolean> {
      const createdAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      const upload = { key: randomUUID(), contentType: 'image/jpeg', fileSize: PHOTO_BYTES, width: 640, height: 480, createdAt, original: randomBytes(PHOTO_BYTES), cropped: randomBytes(CROP_BYTES), analysis: '{}' };
      const duplicateOf = async () => {
        await feed.catchUp();
        if (!searched) return search.duplicateOf(client, embedding, threshold);
        const nearest = searched.nearest(embedding);
        return nearest && nearest.score >= threshold ? nearest.username : undefined;
      };
      try {
        await turns.run(client, async () => {
          const change = await store.users.enroll(client, { username, createdAt, image: { upload }, template: { ...BENCH_SPACE, embedding } }, duplicateOf);
          if (searched) searched.add(username, embedding);
          else search.apply({ kind: 'enrolled', client, username, embedding });
          feed.applied(change);
        });
        return true;
      } catch (error) {
        if (error instanceof EnrollmentConflict) return false;
        throw error;
      }
    },
  };
}

/** `count` enrollments of one client, one at a time, each searching (and then joining) `index`. */
export async function enrollThroughput(store: Store, index: TemplateIndex, indexConfig: DuplicateIndexConfig, embeddings: (i: number) => Float32Array, count: number, threshold: number): Promise<EnrollFigures> {
  const path = enrollmentPath(store, indexConfig, index);
  await path.start();
  const latency: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await path.enroll('bench', `bench-${i}`, embeddings(i), threshold);
    latency.push(performance.now() - t);
  }
  return { enrollments: count, seconds: (performance.now() - started) / 1000, latency };
}

/** The PostgreSQL server to benchmark on: FACEGATE_BENCH_DATABASE_URL, else the test cluster's (scripts/pg-test-cluster.sh). */
export const BENCH_SERVER_URL = process.env.FACEGATE_BENCH_DATABASE_URL || process.env.FACEGATE_TEST_DATABASE_URL;

/** Runs `work` on a fresh database of the benchmark server, dropped afterwards. */
export async function withFreshDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const server = new Client({ connectionString: BENCH_SERVER_URL });
  await server.connect();
  const name = `facegate_bench_${randomBytes(4).toString('hex')}`;
  try {
    await server.query(`CREATE DATABASE ${name}`);
    const url = new URL(BENCH_SERVER_URL!);
    url.pathname = `/${name}`;
    return await work(url.toString());
  } finally {
    await server.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await server.end();
  }
}

/** The store a replica opens on `url`, sealing with `keyText`, with a pool of `poolSize`. */
export function openBenchStore(url: string, keyText: string, poolSize: number): Promise<Store> {
  return openStore({ dataDir: '', busyTimeoutMs: 5000, databaseUrl: url, postgres: { poolSize, statementTimeoutMs: 60_000, connectTimeoutMs: 10_000 } }, Sealer.fromKeyText(keyText));
}
