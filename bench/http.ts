/**
 * `npm run bench [-- --workers N --threads N --seconds S --requests N --peer-seconds S]`: the built server under
 * autocannon, on `POST /NFFS-FIQA/v1/predict` and `POST /face_recognition/image` with the portrait
 * frame at 640x480 and 1920x1080. Prints, per route and size: single-request latency
 * (median/p90/p99), throughput and p99 at 1..8 concurrent connections, the highest throughput
 * whose p99 stays within 250 ms, and the cores used; then RSS before and after `--requests` FIQA
 * requests (5,000 by default), a burst far beyond capacity (503s), the abuse step (another
 * client's slow bodies and max-pixel requests while this client's FIQA requests are measured), and
 * the JavaScript peer (@vladmandic/human, tfjs wasm, one process per core) on the same frames.
 * `--only abuse` runs the abuse step alone; `--only single` only FIQA predict one request at a time
 * (`--requests` of them, 30 by default here) at each size; `--only iso` only the ISO/IEC 29794-5
 * single call (`POST /quality/iso29794-5`, every component), one request at a time at each size,
 * which the whole run also times after the routes (target: median under 60 ms at 640x480);
 * `--only fiqa` FIQA predict alone, one at a time and at 1..8 connections at each size, then the
 * peer (issue 20's targets in ~5 minutes). The server's RSS is sampled every 100 ms throughout, and
 * its peak printed at the end.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { loadConfig } from '../src/config';
import { startAbuse } from './abuse';
import { type BuiltServer, rssMb, scratchDataDir, startBuiltServer } from './built-server';
import { PORTRAIT, portraitAvailable, portraitFrame } from './frames';
import { peerThroughput } from './peer';
import { argValue, stealMeter } from './stats';

const KEY = 'bench-key-0123456789abcdef';
/** The key of a second client, the abuser of the abuse step. */
const ABUSER_KEY = 'bench-abuser-key-0123456789abc';
const P99_AIM_MS = 250;
/** The abuse step's target: a client keeps this share of its unloaded throughput, with p99 under ABUSE_P99_MS. */
const ABUSE_SHARE = 0.7;
const ABUSE_P99_MS = 1000;
const CONNECTIONS = [1, 2, 3, 4, 6, 8];
const SIZES: [number, number][] = [
  [640, 480],
  [1920, 1080],
];

interface Route {
  name: string;
  path: string;
  body: (base64: string) => string;
}

const ROUTES: Route[] = [
  { name: 'FIQA predict', path: '/NFFS-FIQA/v1/predict', body: (image) => JSON.stringify({ images: [image] }) },
  { name: 'QI Tech upload', path: '/face_recognition/image', body: (image) => JSON.stringify({ image }) },
];
const ISO_ROUTE: Route = { name: 'ISO/IEC 29794-5 components', path: '/quality/iso29794-5', body: (image) => JSON.stringify({ image }) };
/** The issue's aim for the single call at 640x480. */
const ISO_MEDIAN_AIM_MS = 60;

/** CPU seconds (user + system) the process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startServer(workers: number, threads: number): Promise<BuiltServer> {
  const { dataDir, configFile } = scratchDataDir('facegate-bench-', { auth: { clients: { abuser: { apiKeys: [ABUSER_KEY] } } } });
  return startBuiltServer(
    {
      FACEGATE_DATA_DIR: dataDir,
      FACEGATE_CONFIG: configFile,
      FACEGATE_API_KEYS: KEY,
      FACEGATE_WORKERS: String(workers),
      FACEGATE_THREADS: String(threads),
      FACEGATE_LOG_LEVEL: 'warn',
    },
    { output: 'inherit' },
  );
}

interface Load {
  /** Requests answered with a verdict (2xx, or a 4xx rejection after the analysis). */
  requestsPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  /** 503s of the admission queue and other 5xx, and 429s (more bodies at once than one client may send). */
  refused: number;
  errors: number;
  cores: number;
  /** Share of the machine's CPU time taken by the host during the run. */
  stolen: number;
}

async function load(pid: number, url: string, body: string, options: { connections: number; seconds?: number; amount?: number }): Promise<Load> {
  const cpuBefore = cpuSeconds(pid);
  const stolen = stealMeter();
  const started = Date.now();
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { authorization: KEY, 'content-type': 'application/json' },
    body,
    connections: options.connections,
    duration: options.seconds ?? 10,
    amount: options.amount,
    timeout: 30,
  });
  const wall = (Date.now() - started) / 1000;
  const tooMany = result.statusCodeStats?.['429']?.count ?? 0;
  return {
    requestsPerSecond: (result['2xx'] + result['4xx'] - tooMany) / wall,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    refused: result['5xx'] + tooMany,
    errors: result.errors + result.timeouts,
    cores: (cpuSeconds(pid) - cpuBefore) / wall,
    stolen: stolen(),
  };
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const pct = (share: number) => `${(100 * share).toFixed(0)}%`;

/**
 * This client's FIQA requests (640x480 frame) at 1 and 2 connections, unloaded and while the
 * abuser client runs 10 slow-body connections and 10 max-pixel request connections. The target is
 * for a client sending one request at a time; at 2 connections this client alone would use both
 * cores, and under abuse its fair share is about half of them, so that line is for information.
 */
async function abuseStep(pid: number, url: string, body: string, seconds: number): Promise<void> {
  const target = `${url}${ROUTES[0].path}`;
  const connections = [1, 2];
  const unloaded: Load[] = [];
  for (const count of connections) unloaded.push(await load(pid, target, body, { connections: count, seconds }));
  const abuse = await startAbuse(url, ABUSER_KEY, { slowBodies: 10, pixelRequests: 10 });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const abused: Load[] = [];
  for (const count of connections) abused.push(await load(pid, target, body, { connections: count, seconds }));
  const answers = await abuse.stop();
  console.log(`\nAbuse: another client runs ${abuse.description}; FIQA 640x480 from this client, ${seconds} s per step`);
  console.log('| connections | unloaded requests/s | p50 | p99 | under abuse requests/s | p50 | p99 | 503 or failed | kept | CPU stolen by the host |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [i, count] of connections.entries()) {
    const [before, during] = [unloaded[i], abused[i]];
    console.log(
      `| ${count} | ${before.requestsPerSecond.toFixed(2)} | ${ms(before.p50)} | ${ms(before.p99)} | ${during.requestsPerSecond.toFixed(2)} | ${ms(during.p50)} | ${ms(during.p99)} | ` +
        `${during.refused + during.errors} | ${pct(during.requestsPerSecond / before.requestsPerSecond)} | ${pct(during.stolen)} |`,
    );
  }
  const [before, during] = [unloaded[0], abused[0]];
  const holds = during.requestsPerSecond >= ABUSE_SHARE * before.requestsPerSecond && during.p99 < ABUSE_P99_MS && during.refused + during.errors === 0;
  console.log(`the abuser's answers by status (0: cut off): ${JSON.stringify(answers)}; RSS ${rssMb(pid).toFixed(0)} MB`);
  console.log(
    `target (one connection keeps >= ${pct(ABUSE_SHARE)} of its unloaded throughput, p99 < ${ABUSE_P99_MS} ms, nothing refused): ${holds ? 'holds' : 'DOES NOT HOLD'} ` +
      `(${pct(during.requestsPerSecond / before.requestsPerSecond)}, p99 ${ms(during.p99)})`,
  );
}

/** The highest RSS of process `pid`, sampled every 100 ms until `stop`. */
function peakRss(pid: number): { stop: () => number } {
  let highest = rssMb(pid);
  const timer = setInterval(() => {
    try {
      highest = Math.max(highest, rssMb(pid));
    } catch {
      // The server has ended.
    }
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return highest;
    },
  };
}

/** `route` one request at a time (`amount` of them after 3 to warm up) at each frame size: median, p90, p99. */
async function singleRequests(pid: number, url: string, route: Route, frames: Buffer[], amount: number): Promise<Load[]> {
  const runs: Load[] = [];
  for (const [index, [width, height]] of SIZES.entries()) {
    const body = route.body(frames[index].toString('base64'));
    await load(pid, url + route.path, body, { connections: 1, amount: 3 });
    const single = await load(pid, url + route.path, body, { connections: 1, amount });
    console.log(`${route.name}, ${width}x${height}: one request at a time: median ${ms(single.p50)}, p90 ${ms(single.p90)}, p99 ${ms(single.p99)} (CPU stolen by the host: ${pct(single.stolen)})`);
    runs.push(single);
  }
  return runs;
}

/** The ISO single call, one request at a time, against its aim. */
async function isoStep(pid: number, url: string, frames: Buffer[], amount: number): Promise<void> {
  const [small] = await singleRequests(pid, url, ISO_ROUTE, frames, amount);
  console.log(`target (median < ${ISO_MEDIAN_AIM_MS} ms at 640x480): ${small.p50 < ISO_MEDIAN_AIM_MS ? 'holds' : 'DOES NOT HOLD'} (${ms(small.p50)})`);
}

async function main(): Promise<void> {
  const defaults = loadConfig().models;
  const workers = process.argv.includes('--workers') ? Number(process.argv[process.argv.indexOf('--workers') + 1]) : defaults.workers;
  if (!(Number.isInteger(workers) && workers >= 0)) throw new Error('--workers takes a whole number from 0');
  const threads = argValue('threads', defaults.intraOpThreads);
  const seconds = argValue('seconds', 10);
  const requests = argValue('requests', 5000);
  const peerSeconds = argValue('peer-seconds', 20);
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  if (only !== undefined && !['abuse', 'single', 'fiqa', 'iso'].includes(only)) throw new Error('--only takes abuse, single, fiqa or iso');
  const onlyAbuse = only === 'abuse';
  const frames = await Promise.all(SIZES.map(([w, h]) => portraitFrame(w, h)));
  console.log(
    `FaceGate ${workers} analysis worker(s) x ${threads} intra-op thread(s), ${availableParallelism()} cores; frames ${portraitAvailable ? `with ${PORTRAIT}` : 'without a face (no photo set)'}; ` +
      `autocannon ${seconds} s per step`,
  );
  const { child, url } = await startServer(workers, threads);
  const pid = child.pid as number;
  const peak = peakRss(pid);
  const best: Record<string, number> = {};
  const fiqaBody = ROUTES[0].body(frames[0].toString('base64'));
  if (only === 'single' || only === 'iso') {
    try {
      if (only === 'single') await singleRequests(pid, url, ROUTES[0], frames, argValue('requests', 30));
      else await isoStep(pid, url, frames, argValue('requests', 30));
    } finally {
      console.log(`peak RSS of the server across the run: ${peak.stop().toFixed(0)} MB`);
      child.kill('SIGTERM');
    }
    return;
  }
  if (onlyAbuse) {
    try {
      await load(pid, url + ROUTES[0].path, fiqaBody, { connections: 2, amount: 10 });
      await abuseStep(pid, url, fiqaBody, seconds);
    } finally {
      console.log(`peak RSS of the server across the run: ${peak.stop().toFixed(0)} MB`);
      child.kill('SIGTERM');
    }
    return;
  }
  try {
    console.log(`\nRSS after start-up: ${rssMb(pid).toFixed(0)} MB`);
    for (const route of only === 'fiqa' ? ROUTES.slice(0, 1) : ROUTES) {
      for (const [index, [width, height]] of SIZES.entries()) {
        const body = route.body(frames[index].toString('base64'));
        const target = url + route.path;
        await load(pid, target, body, { connections: 1, amount: 3 });
        const single = await load(pid, target, body, { connections: 1, amount: 30 });
        console.log(`\n${route.name}, ${width}x${height}: one request at a time: median ${ms(single.p50)}, p90 ${ms(single.p90)}, p99 ${ms(single.p99)} (CPU stolen by the host: ${pct(single.stolen)})`);
        console.log('| connections | requests/s | p50 | p99 | 503 or failed | cores used | CPU stolen by the host |\n|---:|---:|---:|---:|---:|---:|---:|');
        let withinAim: Load | undefined;
        let fastest: Load | undefined;
        for (const connections of CONNECTIONS) {
          const run = await load(pid, target, body, { connections, seconds });
          console.log(`| ${connections} | ${run.requestsPerSecond.toFixed(2)} | ${ms(run.p50)} | ${ms(run.p99)} | ${run.refused + run.errors} | ${run.cores.toFixed(2)} | ${pct(run.stolen)} |`);
          if (run.p99 <= P99_AIM_MS && run.requestsPerSecond > (withinAim?.requestsPerSecond ?? 0)) withinAim = run;
          if (run.requestsPerSecond > (fastest?.requestsPerSecond ?? 0)) fastest = run;
        }
        console.log(
          `highest throughput with p99 <= ${P99_AIM_MS} ms: ${withinAim ? `${withinAim.requestsPerSecond.toFixed(2)} requests/s` : 'none (p99 is above it even one request at a time)'}; ` +
            `highest overall: ${fastest?.requestsPerSecond.toFixed(2)} requests/s`,
        );
        best[`${route.name} ${width}x${height}`] = fastest?.requestsPerSecond ?? 0;
      }
    }
    if (only !== 'fiqa') {
      console.log();
      await isoStep(pid, url, frames, 30);

      const before = rssMb(pid);
      const soak = await load(pid, url + ROUTES[0].path, fiqaBody, { connections: 4, amount: requests, seconds: 3600 });
      console.log(
        `\nRSS across ${requests} FIQA requests (640x480, 4 connections): ${before.toFixed(0)} MB before, ${rssMb(pid).toFixed(0)} MB after; ` +
          `${soak.requestsPerSecond.toFixed(2)} requests/s, p99 ${ms(soak.p99)}, ${soak.refused + soak.errors} refused or failed, ${soak.cores.toFixed(2)} cores used, CPU stolen by the host ${pct(soak.stolen)}`,
      );

      // The 5,000 requests measure the same route and frame for minutes rather than seconds.
      best['FIQA predict 640x480'] = Math.max(best['FIQA predict 640x480'], soak.requestsPerSecond);

      const burst = await load(pid, url + ROUTES[0].path, fiqaBody, { connections: 64, seconds });
      console.log(
        `burst of 64 connections for ${seconds} s: ${burst.requestsPerSecond.toFixed(2)} requests/s answered, ${burst.refused} answered 503 or 429, ${burst.errors} errors/timeouts; ` +
          `p50 ${ms(burst.p50)}, p99 ${ms(burst.p99)}; RSS ${rssMb(pid).toFixed(0)} MB`,
      );

      await abuseStep(pid, url, fiqaBody, seconds);
    }
  } finally {
    console.log(`\npeak RSS of the server across the run (sampled every 100 ms): ${peak.stop().toFixed(0)} MB`);
    child.kill('SIGTERM');
  }

  console.log(`\nPeer: @vladmandic/human, tfjs wasm, ${availableParallelism()} processes x ${peerSeconds} s (detection + mesh + iris + description)`);
  for (const [index, [width, height]] of SIZES.entries()) {
    const peer = await peerThroughput({ processes: availableParallelism(), seconds: peerSeconds, image: frames[index] });
    const ours = best[`FIQA predict ${width}x${height}`];
    console.log(
      `${width}x${height}: peer ${peer.imagesPerSecond.toFixed(2)} images/s (detect() median ${ms(peer.medianMs)}, ${peer.facesPerImage.toFixed(2)} faces/image); ` +
        `FaceGate FIQA ${ours.toFixed(2)} requests/s (its best above) = ${(ours / peer.imagesPerSecond).toFixed(2)}x the peer`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
