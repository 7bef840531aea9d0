/**
 * `npm run bench:store [-- --sizes 10000,100000,1000000 --queries 100 --enrolls 100 --sign-bit-candidates 64,256,1024 --candidates 16,64,256 --graph-up-to 100000 --search-only]`:
 * the duplicate-face search at growing numbers of enrolled templates, on synthetic data: seeded
 * random unit vectors of the embedding's dimension, and near-duplicate queries at genuine-pair
 * similarities, half within 0.05 above the duplicate threshold (the hardest), half from there to
 * the highest genuine pair of docs/recognition.md (0.92).
 * Per size it prints: the time to load the templates and the memory they take (process RSS
 * growth), the exact scan's latency, the latency and recall@1 (against the exact scan) of the
 * sign-bit scan (for each of --sign-bit-candidates) and of the HNSW graph (for each of --candidates)
 * by the number of candidates re-scored, the graph's build time and memory, and enrollments on
 * SQLite and on PostgreSQL, one at a time (per second and latency: the store's transaction with its
 * sealed 60 KB photo, the template feed's catch-up and the sign-bit search of the index under the
 * client's lock, as src/service/enrollment.ts does; skipped with --search-only).
 * Then one replica process against two on PostgreSQL (bench/store-replicas.ts; `--replica-enrolls`,
 * 400, `--in-flight`, 4 per replica; skipped with --search-only). PostgreSQL: a fresh database on
 * the server FACEGATE_BENCH_DATABASE_URL names, else the test cluster's
 * (eval "$(scripts/pg-test-cluster.sh start)"); without either, those columns say so.
 * Graph parameters default to config `recognition.duplicateIndex`; `--connectivity`,
 * `--expansion-add`, `--expansion-search` and `--quantisation` override them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../eval/random';
import { type DuplicateIndexConfig, loadConfig } from '../src/config';
import { TemplateIndex } from '../src/service/duplicate-search';
import { openStore } from '../src/store';
import { argValue, percentile, stealMeter } from './stats';
import { BENCH_SERVER_URL, type EnrollFigures, enrollThroughput, openBenchStore, withFreshDatabase } from './store-enroll';
import { compareReplicas } from './store-replicas';
import { DIMENSIONS, nearDuplicate, unitVector } from './synthetic-templates';

const HIGHEST_GENUINE = 0.92;

function argText(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
const ms = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${percentile(sorted, 50).toFixed(2)} / ${percentile(sorted, 99).toFixed(2)}`;
};

interface Sweep {
  search: 'sign-bit scan' | 'graph';
  candidates: number;
  latency: number[];
  /** Answers equal to the exact scan's, over all queries and over those within 0.05 of the threshold. */
  recall: number;
  recallAtThreshold: number;
}

interface Row {
  size: number;
  loadS: number;
  vectorsMiB: number;
  /** Absent beyond --graph-up-to. */
  graph?: { buildS: number; MiB: number };
  exact: number[];
  sweeps: Sweep[];
  /** Absent with --search-only. */
  sqlite?: EnrollFigures;
  /** Absent without a PostgreSQL server, or with --search-only. */
  postgres?: EnrollFigures;
}

/** New faces for the enrollment rows: a population of their own, so none is a duplicate. */
const newFace = (i: number) => unitVector(99, i);

/** Enrollments on a fresh SQLite store and (with a server) a fresh PostgreSQL database, each searching and then joining `index`. */
async function enrollments(index: TemplateIndex, config: DuplicateIndexConfig, count: number, threshold: number): Promise<{ sqlite: EnrollFigures; postgres?: EnrollFigures }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'facegate-bench-store-'));
  const sqliteStore = await openStore({ dataDir, busyTimeoutMs: 5000 });
  let sqlite: EnrollFigures;
  try {
    sqlite = await enrollThroughput(sqliteStore, index, config, newFace, count, threshold);
  } finally {
    await sqliteStore.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // The same faces again on PostgreSQL: the index forgets the SQLite run's first.
  for (let i = 0; i < count; i++) index.remove(`bench-${i}`);
  if (!BENCH_SERVER_URL) return { sqlite };
  const postgres = await withFreshDatabase(async (url) => {
    const store = await openBenchStore(url, randomBytes(32).toString('hex'), 4);
    try {
      return await enrollThroughput(store, index, config, newFace, count, threshold);
    } finally {
      await store.close();
    }
  });
  return { sqlite, postgres };
}

/** What one size measures: the candidates each search re-scores, and which parts run. */
interface Plan {
  signBitCandidates: number[];
  graphCandidates: number[];
  withGraph: boolean;
  threshold: number;
  queries: number;
  /** 0 skips the SQLite enrollments. */
  enrolls: number;
}

/**
 * One size: the templates are loaded once and searched by the exact scan, then by the sign-bit scan
 * with each number of candidates, then (up to --graph-up-to) the graph is built and searched with
 * each of its numbers of candidates (usearch widens its search list to the number of results asked
 * for, so more candidates also mean a wider graph search).
 */
async function measure(size: number, config: DuplicateIndexConfig, plan: Plan): Promise<Row> {
  const { threshold, queries, enrolls } = plan;
  global.gc?.();
  const before = rssMiB();
  // The index reads its tiers and `candidates` from this object at each search, so the sweep changes it in place.
  const live = { ...config, exactBelow: 1, graphFrom: Number.MAX_SAFE_INTEGER };
  const index = new TemplateIndex(live);
  const started = performance.now();
  for (let row = 0; row < size; row++) index.add(`user-${row}`, unitVector(1, row));
  const loadS = (performance.now() - started) / 1000;
  const loaded = rssMiB();

  const random = seededRandom(size);
  const exact: number[] = [];
  const probes: { probe: Float32Array; atThreshold: boolean; truth?: string }[] = [];
  for (let q = 0; q < queries; q++) {
    const target = Math.floor(random() * size);
    const atThreshold = q % 2 === 0;
    const cosine = atThreshold ? threshold + random() * 0.05 : threshold + 0.05 + random() * (HIGHEST_GENUINE - threshold - 0.05);
    const probe = nearDuplicate(unitVector(1, target), cosine, unitVector(2, q));
    const t = performance.now();
    const truth = index.nearestByScan(probe)?.username;
    exact.push(performance.now() - t);
    probes.push({ probe, atThreshold, truth });
  }
  const sweep = (search: Sweep['search'], candidateSweep: number[]) =>
    candidateSweep.map((candidates): Sweep => {
      if (search === 'graph') live.candidates = candidates;
      else live.signBitCandidates = candidates;
      const latency: number[] = [];
      let agreed = 0;
      let agreedAtThreshold = 0;
      for (const { probe, atThreshold, truth } of probes) {
        const t = performance.now();
        const found = index.nearest(probe)?.username;
        latency.push(performance.now() - t);
        if (found === truth) {
          agreed++;
          if (atThreshold) agreedAtThreshold++;
        }
      }
      const hard = probes.filter((p) => p.atThreshold).length;
      return { search, candidates, latency, recall: agreed / probes.length, recallAtThreshold: agreedAtThreshold / hard };
    });
  const sweeps = sweep('sign-bit scan', plan.signBitCandidates);
  live.signBitCandidates = config.signBitCandidates;
  const stores = enrolls > 0 ? await enrollments(index, live, enrolls, threshold) : {};
  if (!plan.withGraph) return { size, loadS, vectorsMiB: loaded - before, exact, sweeps, ...stores };

  const unbuilt = rssMiB();
  live.graphFrom = 1;
  const building = performance.now();
  index.fillGraph(Number.MAX_SAFE_INTEGER);
  const graph = { buildS: (performance.now() - building) / 1000, MiB: rssMiB() - unbuilt };
  sweeps.push(...sweep('graph', plan.graphCandidates));
  return { size, loadS, vectorsMiB: loaded - before, graph, exact, sweeps, ...stores };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const defaults = config.recognition.duplicateIndex;
  const quantisation = (argText('quantisation') ?? defaults.quantisation) as DuplicateIndexConfig['quantisation'];
  const graph: DuplicateIndexConfig = {
    ...defaults,
    connectivity: argValue('connectivity', defaults.connectivity),
    expansionAdd: argValue('expansion-add', defaults.expansionAdd),
    expansionSearch: argValue('expansion-search', defaults.expansionSearch),
    quantisation,
  };
  const numbers = (name: string, fallback: number) => (argText(name) ?? String(fallback)).split(',').map(Number);
  const signBitCandidates = numbers('sign-bit-candidates', defaults.signBitCandidates);
  const graphCandidates = numbers('candidates', defaults.candidates);
  const sizes = (argText('sizes') ?? '10000,100000,1000000').split(',').map(Number);
  // Building a graph of a million templates takes over an hour on this machine.
  const graphUpTo = argValue('graph-up-to', 100_000);
  const queries = argValue('queries', 100);
  const enrolls = process.argv.includes('--search-only') ? 0 : argValue('enrolls', 100);
  const threshold = config.recognition.duplicateThreshold;
  const steal = stealMeter();
  console.log(
    `graph: ${graph.quantisation}, connectivity ${graph.connectivity}, expansion add ${graph.expansionAdd} / search ${graph.expansionSearch}, ` +
      `candidates re-scored: ${signBitCandidates.join(', ')} (sign bits), ${graphCandidates.join(', ')} (graph); ` +
      `${queries} near-duplicate queries per size at similarity ${threshold}..${HIGHEST_GENUINE}; ` +
      `${DIMENSIONS}-d synthetic templates`,
  );
  const rows: Row[] = [];
  for (const size of sizes) {
    const r = await measure(size, graph, { signBitCandidates, graphCandidates, withGraph: size <= graphUpTo, threshold, queries, enrolls });
    rows.push(r);
    console.log(
      `${size} templates: load ${r.loadS.toFixed(1)} s, exact ${ms(r.exact)} ms, graph ${r.graph ? `${r.graph.buildS.toFixed(1)} s` : 'not built'}, ` +
        r.sweeps.map((w) => `${w.search} ${w.candidates} candidates ${ms(w.latency)} ms recall ${w.recall.toFixed(3)}`).join(', '),
    );
  }
  const enrolled = (figures?: EnrollFigures) => (figures ? `${(figures.enrollments / figures.seconds).toFixed(0)} | ${ms(figures.latency)}` : 'not run | -');
  console.log(
    '\n| templates | load s | templates MiB (full precision + sign bits) | bytes per template | exact scan ms p50 / p99 | graph build s | graph MiB | SQLite enrolls/s | SQLite enroll ms p50 / p99 | PostgreSQL enrolls/s | PostgreSQL enroll ms p50 / p99 |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const built = r.graph ? `${r.graph.buildS.toFixed(1)} | ${r.graph.MiB.toFixed(0)}` : 'not built | -';
    const perTemplate = ((r.vectorsMiB * 2 ** 20) / r.size).toFixed(0);
    console.log(`| ${r.size} | ${r.loadS.toFixed(1)} | ${r.vectorsMiB.toFixed(0)} | ${perTemplate} | ${ms(r.exact)} | ${built} | ${enrolled(r.sqlite)} | ${enrolled(r.postgres)} |`);
  }
  console.log('\n| templates | search | candidates re-scored | ms p50 / p99 | recall@1 | recall@1, similarity within 0.05 of the threshold |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    for (const w of r.sweeps) console.log(`| ${r.size} | ${w.search} | ${w.candidates} | ${ms(w.latency)} | ${w.recall.toFixed(3)} | ${w.recallAtThreshold.toFixed(3)} |`);
  }
  if (enrolls === 0) {
    console.log('\n--search-only: no enrollments, no replica rows');
  } else if (BENCH_SERVER_URL) {
    const replicaEnrolls = argValue('replica-enrolls', 400);
    const inFlight = argValue('in-flight', 4);
    console.log(`\nOne replica process against two on one PostgreSQL database: ${replicaEnrolls} enrollments per row split between them, ${inFlight} in flight in each, sealed 60 KB photos, feed catch-up and index search under the client's lock`);
    console.log('\n| replicas | clients | enrolls/s | enroll ms p50 / p99 |');
    console.log('|---|---|---|---|');
    for (const r of await compareReplicas(replicaEnrolls, inFlight)) console.log(`| ${r.replicas} | ${r.clients} | ${r.perS.toFixed(0)} | ${ms(r.latency)} |`);
  } else {
    console.log('\nNo PostgreSQL server (FACEGATE_BENCH_DATABASE_URL or FACEGATE_TEST_DATABASE_URL): the PostgreSQL columns and the replica rows were not measured');
  }
  console.log(`CPU stolen by other machines during the run: ${(steal() * 100).toFixed(0)}%`);
}

void main();
