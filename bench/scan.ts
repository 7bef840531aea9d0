/**
 * `npm run bench:scan [-- --workers N --repeat K --requests N]`: images per second of a batch scan
 * of the shared photo set (uploaded K times over), and the latency of `POST /NFFS-FIQA/v1/predict`
 * on one portrait, first with the service idle, then while the scan runs in the same process.
 * Without the photo set, the scan and the gate use synthetic images without a face.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import sharp from 'sharp';
import { createApp } from '../src/api/app';
import { loadApiDocument } from '../src/api/openapi';
import { loadConfig } from '../src/config';
import { createKeyring } from '../src/config/api-keys';
import { startAnalyzer } from '../src/pipeline/analysis-pool';
import { sniffFormat } from '../src/pipeline/decode';
import { createScanner } from '../src/scan/scanner';
import { openStore } from '../src/store';
import { FACES_DIR, facePath, facesAvailable } from '../eval/dataset';
import { PORTRAIT } from './frames';
import { argValue, summarize } from './stats';

const KEY = 'bench-key-0123456789abcdef';

async function dataset(): Promise<{ name: string; bytes: Buffer }[]> {
  if (facesAvailable) {
    return readdirSync(FACES_DIR)
      .map((name) => ({ name, bytes: readFileSync(join(FACES_DIR, name)) }))
      .filter((f) => sniffFormat(f.bytes));
  }
  return Promise.all(
    Array.from({ length: 60 }, async (_, i) => ({
      name: `synthetic-${i}.jpg`,
      bytes: await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 40 + i, g: 90, b: 140 } } }).jpeg().toBuffer(),
    })),
  );
}

async function main(): Promise<void> {
  const workers = argValue('workers', loadConfig().scan.workers);
  const repeat = argValue('repeat', 1);
  const requests = argValue('requests', 20);
  const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-bench-')), FACEGATE_API_KEYS: KEY });
  config.scan.workers = workers;
  // One key sends everything here: its rate limit is lifted so that capacity, not the limit, is measured.
  config.limits.requestsPerKeyPerMinute = 1_000_000;
  const logger = pino({ level: 'silent' });
  const store = await openStore(config.store);
  const analyzer = await startAnalyzer(config.models);
  const scanner = createScanner(config, store.scans, logger);
  const app = createApp({ config, analyzer, store, keyring: createKeyring(config.auth, config.store.dataDir), api: loadApiDocument(), logger, scanner });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const files = await dataset();
  const portrait = facesAvailable ? readFileSync(facePath(PORTRAIT)) : files[0].bytes;
  const fiqaBody = JSON.stringify({ images: [portrait.toString('base64')] });
  const fiqa = async (): Promise<number> => {
    const start = performance.now();
    const res = await fetch(`${base}/NFFS-FIQA/v1/predict`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: fiqaBody });
    if (!res.ok) throw new Error(`FIQA answered ${res.status}`);
    await res.arrayBuffer();
    return performance.now() - start;
  };
  const show = (label: string, samples: number[]) => {
    const { median, p90 } = summarize(samples);
    console.log(`${label.padEnd(34)} n=${String(samples.length).padStart(3)}  median ${median.toFixed(0).padStart(5)} ms  p90 ${p90.toFixed(0).padStart(5)} ms`);
    return median;
  };

  console.log(`${files.length * repeat} images (${facesAvailable ? 'the shared photo set' : 'synthetic, no photo set'} x${repeat}); ${workers} scan worker(s) x ${config.scan.threadsPerWorker} thread(s); gate: ${config.models.workers} worker(s) x ${config.models.intraOpThreads} intra-op thread(s)`);
  for (let i = 0; i < 3; i++) await fiqa();
  const idle: number[] = [];
  for (let i = 0; i < requests; i++) idle.push(await fiqa());

  const form = new FormData();
  for (let r = 0; r < repeat; r++) for (const f of files) form.append('files', new Blob([f.bytes]), `${r}/${f.name}`);
  const accepted = (await (await fetch(`${base}/scan/uploaded`, { method: 'POST', headers: { authorization: KEY }, body: form })).json()) as { tid: string };
  const during: number[] = [];
  const scanning = scanner.idle();
  let finished = false;
  void scanning.then(() => (finished = true));
  while (!finished) during.push(await fiqa());
  await scanning;
  const task = await store.scans.task(config.auth.defaultClient, accepted.tid);
  if (!task || task.status !== 'done' || !task.startedAt || !task.finishedAt) throw new Error(`the scan did not finish: ${JSON.stringify(task)}`);
  const seconds = (Date.parse(task.finishedAt) - Date.parse(task.startedAt)) / 1000;

  const idleMedian = show('FIQA latency, idle', idle);
  const busyMedian = show('FIQA latency, during the scan', during);
  console.log(`FIQA slowdown during the scan       ${(busyMedian / idleMedian).toFixed(2)}x (aim: at most 2x)`);
  console.log(`scan: ${task.total} images in ${seconds.toFixed(1)} s = ${(task.total / seconds).toFixed(2)} images/s (${(await store.scans.errors(task.id)).length} failed)`);

  server.close();
  await scanner.close();
  await analyzer.close();
  await store.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
