import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BuiltServer {
  child: ChildProcess;
  port: number;
  url: string;
}

/** A TCP port free on the loopback interface right now. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The resident memory of a process, from /proc. */
export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(line.replace(/\D+/g, '')) / 1024;
}

/**
 * A fresh data folder and a config file in it, merged over the defaults by FACEGATE_CONFIG. The
 * per-key rate limit is lifted: these scripts send all their traffic with one key, and measure the
 * service, not the limit.
 */
export function scratchDataDir(prefix: string, config: Record<string, unknown> = {}): { dataDir: string; configFile: string } {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const configFile = join(dataDir, 'config.json');
  const limits = { requestsPerKeyPerMinute: 1_000_000 };
  writeFileSync(configFile, JSON.stringify({ ...config, limits: { ...limits, ...(config.limits as object | undefined) } }));
  return { dataDir, configFile };
}

/** The variables `npm start` sets before `node` (package.json's start script, e.g. glibc's malloc tuning). */
function startScriptEnvironment(): Record<string, string> {
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const assignments = scripts.start.slice(0, scripts.start.indexOf('node ')).trim().split(/\s+/).filter(Boolean);
  return Object.fromEntries(assignments.map((assignment) => assignment.split('=', 2)));
}

/**
 * Starts the built server (dist/src/server.js) as `npm start` runs it, on loopback, with `env`
 * added, and resolves once /ready answers 200; throws if it exits or is not ready within 60 s.
 */
export async function startBuiltServer(env: Record<string, string>, options: { port?: number; output?: 'inherit' | 'ignore' } = {}): Promise<BuiltServer> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    env: { ...process.env, ...startScriptEnvironment(), FACEGATE_PORT: String(port), FACEGATE_HOST: '127.0.0.1', ...env },
    stdio: ['ignore', options.output ?? 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; waited <= 60_000; waited += 50) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) return { child, port, url };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('the server was not ready within 60 s');
}
