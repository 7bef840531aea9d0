/**
 * `npm run soak [-- --minutes M --rate R]`: the built server under mixed traffic at a fixed rate
 * for M minutes (10 by default) at R requests/s (5.6 by default: 80% of the 6.97 FIQA requests/s
 * docs/performance.md measured): FIQA predict and QI Tech uploads of the portrait frame, metadata
 * reads, health checks. Prints errors (5xx, timeouts, connection errors), latency, and RSS sampled
 * every 10 s with its slope.
 */
import autocannon from 'autocannon';
import { portraitFrame } from '../../bench/frames';
import { rssMb, scratchDataDir, startBuiltServer } from '../../bench/built-server';
import { argValue } from '../../bench/stats';

const KEY = 'soak-key-0123456789abcdef';

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

async function main(): Promise<void> {
  const minutes = argValue('minutes', 10);
  const rate = argValue('rate', 5.6);
  const { dataDir, configFile } = scratchDataDir('facegate-soak-');
  const { child, url: base } = await startBuiltServer({ FACEGATE_DATA_DIR: dataDir, FACEGATE_CONFIG: configFile, FACEGATE_API_KEYS: KEY, FACEGATE_LOG_LEVEL: 'error' });

  const image = (await portraitFrame(640, 480)).toString('base64');
  const stored = (await (await fetch(`${base}/face_recognition/image`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ image }) })).json()) as {
    image_key?: string;
  };
  const json = { authorization: KEY, 'content-type': 'application/json' };
  const requests = [
    { method: 'POST' as const, path: '/NFFS-FIQA/v1/predict', headers: json, body: JSON.stringify({ images: [image] }) },
    { method: 'POST' as const, path: '/face_recognition/image', headers: json, body: JSON.stringify({ image }) },
    { method: 'POST' as const, path: '/NFFS-FIQA/v1/predict', headers: json, body: JSON.stringify({ images: [image] }) },
    { method: 'GET' as const, path: `/face_recognition/image/${stored.image_key ?? '00000000-0000-4000-8000-000000000000'}`, headers: { authorization: KEY } },
    { method: 'GET' as const, path: '/health' },
  ];
  const pid = child.pid as number;
  const samples: [number, number][] = [];
  const started = Date.now();
  const sampler = setInterval(() => samples.push([(Date.now() - started) / 60_000, rssMb(pid)]), 10_000);
  samples.push([0, rssMb(pid)]);
  const read = stored.image_key ? 'a stored image' : 'an image key not stored (404: the frame does not pass QI Tech rules)';
  console.log(`${minutes} min of mixed traffic at ${rate} requests/s (FIQA, QI Tech upload, metadata read of ${read}, health); RSS at start ${samples[0][1].toFixed(0)} MB`);
  const result = await autocannon({ url: base, connections: 8, overallRate: rate, duration: minutes * 60, requests, timeout: 30 });
  clearInterval(sampler);
  samples.push([(Date.now() - started) / 60_000, rssMb(pid)]);
  child.kill('SIGTERM');

  const errors = result['5xx'] + result.errors + result.timeouts;
  console.log(
    `${result.requests.total} requests: ${result['2xx']} 2xx, ${result['4xx']} 4xx (photo-rule rejections, reads of a key not stored), ${result['5xx']} 5xx, ${result.errors} errors, ${result.timeouts} timeouts`,
  );
  console.log(`latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`);
  console.log(`RSS ${samples[0][1].toFixed(0)} MB at start, ${samples[samples.length - 1][1].toFixed(0)} MB at the end, max ${Math.max(...samples.map(([, y]) => y)).toFixed(0)} MB; slope ${slope(samples.slice(1)).toFixed(2)} MB/min over ${samples.length - 1} samples`);
  console.log(errors === 0 ? '0 errors' : `${errors} errors`);
  if (errors > 0) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
