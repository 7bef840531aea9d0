/**
 * `npm run bench:startup`: builds nothing, starts dist/src/server.js (run `npm run build` first,
 * as `npm start` does) and prints the time until /health and /ready answer 200.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PROJECT_ROOT } from '../src/config';

const PORT = 18_000 + (process.pid % 1000);
const LIMIT_MS = 60_000;

async function firstOk(url: string, start: number): Promise<number> {
  while (performance.now() - start < LIMIT_MS) {
    try {
      if ((await fetch(url)).status === 200) return performance.now() - start;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} did not answer 200 within ${LIMIT_MS} ms`);
}

async function main(): Promise<void> {
  const start = performance.now();
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'dist', 'src', 'server.js')], {
    env: { ...process.env, FACEGATE_PORT: String(PORT), FACEGATE_HOST: '127.0.0.1', FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-startup-')) },
    stdio: 'ignore',
  });
  try {
    const health = await firstOk(`http://127.0.0.1:${PORT}/health`, start);
    const ready = await firstOk(`http://127.0.0.1:${PORT}/ready`, start);
    console.log(`process start to /health 200: ${health.toFixed(0)} ms`);
    console.log(`process start to /ready 200 (all models loaded): ${ready.toFixed(0)} ms`);
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
