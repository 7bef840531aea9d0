/**
 * `npm run bench:store [-- --sizes 10000,100000,1000000 --queries 100 --enrolls 100 --sign-bit-candidates 64,256,1024 --candidates 16,64,256 --graph-up-to 100000 --search-only]`:
 * the duplicate-face search at growing numbers of enrolled templates, on synthetic data: seeded
 * random unit vectors of the embedding's dimension, and near-duplicate queries at genuine-pair
 * similarities, half within 0.05 above the duplicate threshold (the hardest), half from there to
 * the highest genuine pair of docs/recognition.md (0.92).
 * Per size it prints: the time to load the templates and the memory they take (process RSS
 * growth), the exact scan's latency, the latency and recall@1 (against the exact scan) of the
 * sign-bit scan (for each of --sign-bit-candidates) and of the HNSW graph (for each of --candidates)
 * by the number of candidates re-scored, the graph's build time and memory, and enrollments per
 * second on SQLite (store write plus index search and update; skipped with --search-only).
 * Graph parameters default to config `recognition.duplicateIndex`; `--connectivity`,
 * `--expansion-add`, `--expansion-search` and `--quantisation` override them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '../eval/random';
import { type DuplicateIndexConfig, loadConfig } from '../src/config';
import { TemplateIndex } from '../src/service/duplicate-search';
import { SqliteStore } from '../src/store/sqlite';
import { argValue, percentile, stealMeter } from './stats';

const DIMENSIONS = 512; // fr-feature's embedding
const HIGHEST_GENUINE = 0.92;

function argText(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** A seeded random unit vector: row `row` of the synthetic population, the same on every run. */
function unitVector(seed: number, row: number): Float32Array {
  const random = seededRandom(seed * 7_919 + row * 2_654_435_761);
  const v = new Float32Array(DIMENSIONS);
  let squares = 0;
  for (let i = 0; i < DIMENSIONS; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    v[i] = radius * Math.cos(angle);
    v[i + 1] = radius * Math.sin(angle);
    squares += v[i] * v[i] + v[i + 1] * v[i + 1];
  }
  const norm = Math.sqrt(squares);
  for (let i = 0; i < DIMENSIONS; i++) v[i] /= norm;
  return v;
}

/** A unit vector whose cosine with the unit vector `target` is `cosine`: another capture of the same face. */
function nearDuplicate(target: Float32Array, cosine: number, noise: Float32Array): Float32Array {
  let along = 0;
  for (let i = 0; i < DIMENSIONS; i++) along += noise[i] * target[i];
  const across = noise.map((x, i) => x - along * target[i]);
  const norm = Math.hypot(...across);
  const side = Math.sqrt(1 - cosine * cosine);
  return target.map((x, i) => cosine * x + (side * across[i]) / norm);
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
  enrollsPerS?: number;
}

/** Enrollments per second on a fresh SQLite store, each searching (by the sign-bit scan) and then joining `index`. */
async function enrollThroughput(index: TemplateIndex, count: number, threshold: number): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'facegate-bench-store-'));
  const store = SqliteStore.open({ dataDir, busyTimeoutMs: 5000 });
  const photo = Buffer.alloc(40_000, 7);
  try {
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const username = `bench-${i}`;
      const embedding = unitVector(99, i);
      const createdAt = new Date().toISOString();
      const upload = { key: `bench-${i}`, contentType: 'image/jpeg', fileSize: photo.length, width: 640, height: 480, createdAt, original: photo, cropped: photo, analysis: '{}' };
      const template = { model: 'fr-feature', modelVersion: 'bench', embedding };
      await store.users.enroll('bench', { username, createdAt, image: { upload }, template }, async () => {
        const nearest = index.nearest(embedding);
        return nearest && nearest.score >= threshold ? nearest.username : undefined;
      });
      index.add(username, embedding);
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
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
  const enrollsPerS = enrolls > 0 ? await enrollThroughput(index, enrolls, threshold) : undefined;
  if (!plan.withGraph) return { size, loadS, vectorsMiB: loaded - before, exact, sweeps, enrollsPerS };

  const unbuilt = rssMiB();
  live.graphFrom = 1;
  const building = performance.now();
  index.fillGraph(Number.MAX_SAFE_INTEGER);
  const graph = { buildS: (performance.now() - building) / 1000, MiB: rssMiB() - unbuilt };
  sweeps.push(...sweep('graph', plan.graphCandidates));
  return { size, loadS, vectorsMiB: loaded - before, graph, exact, sweeps, enrollsPerS };
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
  console.log(
    '\n| templates | load s | templates MiB (full precision + sign bits) | bytes per template | exact scan ms p50 / p99 | graph build s | graph MiB | enrolls/s SQLite | enrolls/s PostgreSQL |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const built = r.graph ? `${r.graph.buildS.toFixed(1)} | ${r.graph.MiB.toFixed(0)}` : 'not built | -';
    const perTemplate = ((r.vectorsMiB * 2 ** 20) / r.size).toFixed(0);
    const enrolled = r.enrollsPerS === undefined ? 'not run' : r.enrollsPerS.toFixed(0);
    console.log(`| ${r.size} | ${r.loadS.toFixed(1)} | ${r.vectorsMiB.toFixed(0)} | ${perTemplate} | ${ms(r.exact)} | ${built} | ${enrolled} | (after the backends merge) |`);
  }
  console.log('\n| templates | search | candidates re-scored | ms p50 / p99 | recall@1 | recall@1, similarity within 0.05 of the threshold |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    for (const w of r.sweeps) console.log(`| ${r.size} | ${w.search} | ${w.candidates} | ${ms(w.latency)} | ${w.recall.toFixed(3)} | ${w.recallAtThreshold.toFixed(3)} |`);
  }
  console.log(`CPU stolen by other machines during the run: ${(steal() * 100).toFixed(0)}%`);
}

void main();
