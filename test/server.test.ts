import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig, PROJECT_ROOT } from '../src/config';

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts src/server.ts as `npm start` would run it, with a private data folder and a free port; `asUser` prefixes a command running it as another user. */
function startServer(env: Record<string, string>, asUser: string[] = []): Run {
  const [command, ...args] = [...asUser, process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src', 'server.ts')];
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, FACEGATE_PORT: '0', FACEGATE_HOST: '127.0.0.1', FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-server-')), ...env },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function listeningPort(run: Run): Promise<number> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const line = run.stdout().split('\n').find((l) => l.includes('"msg":"listening"'));
    if (line) return (JSON.parse(line) as { address: { port: number } }).address.port;
    if (run.child.exitCode !== null) throw new Error(`server exited: ${run.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('server did not start listening');
}

describe('server process', () => {
  it('starts with every model loaded, answers /health and /ready, and stops cleanly on SIGTERM', async () => {
    const run = startServer({});
    const port = await listeningPort(run);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { models: { loaded: string[] } }).models.loaded).toEqual(loadConfig({}).models.load);
    expect(run.stdout()).toContain('"msg":"FACEGATE_ENCRYPTION_KEY is not set: face images and templates are stored in clear"');
    expect(run.stdout()).toMatch(/"ffmpeg":"ffmpeg version \S+ .*\(\/\S+\)","msg":"videos are read with this ffmpeg"/);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('refuses to start with a weak or malformed encryption key, or without one when store.requireEncryption is set', async () => {
    const weak = startServer({ FACEGATE_ENCRYPTION_KEY: '00'.repeat(32) });
    expect(await weak.exit).toBe(1);
    expect(weak.stderr()).toContain('facegate: cannot start: FACEGATE_ENCRYPTION_KEY is too weak');
    const malformed = startServer({ FACEGATE_ENCRYPTION_KEY: 'not a key' });
    expect(await malformed.exit).toBe(1);
    expect(malformed.stderr()).toContain('FACEGATE_ENCRYPTION_KEY must be 32 bytes');
    const configFile = join(mkdtempSync(join(tmpdir(), 'facegate-require-key-')), 'config.json');
    writeFileSync(configFile, JSON.stringify({ store: { requireEncryption: true } }));
    const keyless = startServer({ FACEGATE_CONFIG: configFile });
    expect(await keyless.exit).toBe(1);
    expect(keyless.stderr()).toContain('store.requireEncryption is set but FACEGATE_ENCRYPTION_KEY is not');
  });

  (process.getuid?.() === 0 ? it : it.skip)('warns when the data folder is open to other users and belongs to another (a mounted volume)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'facegate-volume-'));
    chmodSync(parent, 0o755);
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir, { mode: 0o777 });
    chmodSync(dataDir, 0o777);
    const configFile = join(parent, 'config.json');
    // A missing ffmpeg ends the start right after the data folder is checked.
    writeFileSync(configFile, JSON.stringify({ video: { ffmpegPath: '/nonexistent/ffmpeg' } }));
    const run = startServer({ FACEGATE_DATA_DIR: dataDir, FACEGATE_CONFIG: configFile }, ['runuser', '-u', 'nobody', '--']);
    expect(await run.exit).toBe(1);
    expect(run.stdout()).toContain(`"dataDir":"${dataDir}","mode":"777","msg":"the data folder is open to other users and belongs to another user: make it 0700"`);
  });

  it('refuses to start without the ffmpeg that video.ffmpegPath names, saying how to get one', async () => {
    const configFile = join(mkdtempSync(join(tmpdir(), 'facegate-no-ffmpeg-')), 'config.json');
    writeFileSync(configFile, JSON.stringify({ video: { ffmpegPath: '/nonexistent/ffmpeg' } }));
    const run = startServer({ FACEGATE_CONFIG: configFile });
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain("video.ffmpegPath: /nonexistent/ffmpeg is not an executable file: install Debian's ffmpeg (apt-get install ffmpeg) or set video.ffmpegPath");
  });

  it('generates an API key at first start into a 0600 file, logs the path but never the key, and accepts it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'facegate-keyfile-'));
    const run = startServer({ FACEGATE_DATA_DIR: dataDir });
    const port = await listeningPort(run);
    const keyFile = join(dataDir, 'api-key');
    const key = readFileSync(keyFile, 'utf8').trim();
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(run.stdout()).toContain(keyFile);
    // The plain start line, beside the JSON log.
    expect(run.stdout()).toContain(`\nFaceGate listening on http://127.0.0.1:${port}, docs at http://127.0.0.1:${port}/docs; API key in ${keyFile} (KEY=$(cat ${keyFile}))`);
    expect(run.stdout() + run.stderr()).not.toContain(key);
    const url = `http://127.0.0.1:${port}/face_recognition/image/00000000-0000-4000-8000-000000000000`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: key } })).status).toBe(404);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('serves /metrics on its own port when metrics.port is set, and not on the service port', async () => {
    const metricsPort = await freePort();
    const configFile = join(mkdtempSync(join(tmpdir(), 'facegate-metrics-port-')), 'config.json');
    writeFileSync(configFile, JSON.stringify({ metrics: { port: metricsPort } }));
    const adminKey = 'metrics-admin-key-0123456789';
    const run = startServer({ FACEGATE_CONFIG: configFile, FACEGATE_ADMIN_KEYS: adminKey });
    const port = await listeningPort(run);
    expect(run.stdout()).toContain(`; metrics at http://127.0.0.1:${metricsPort}/metrics (admin key)`);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: adminKey } })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(401);
    const scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { Authorization: adminKey } });
    expect(scraped.status).toBe(200);
    const loadSeconds = Number(/^facegate_models_load_seconds (\S+)$/m.exec(await scraped.text())?.[1]);
    expect(loadSeconds).toBeGreaterThan(0);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('on SIGTERM, finishes the request under way, then closes the database cleanly and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'facegate-shutdown-'));
    const key = 'shutdown-test-key-0123456789';
    const run = startServer({ FACEGATE_DATA_DIR: dataDir, FACEGATE_API_KEYS: key });
    const port = await listeningPort(run);
    const image = await sharp({ create: { width: 1920, height: 1080, channels: 3, background: '#7a7a7a' } }).jpeg().toBuffer();
    const answer = fetch(`http://127.0.0.1:${port}/NFFS-FIQA/v1/predict`, {
      method: 'POST',
      headers: { authorization: key, 'content-type': 'application/json' },
      body: JSON.stringify({ images: [image.toString('base64')] }),
    });
    // The analysis of a 1920x1080 frame takes a few hundred milliseconds: the signal comes during it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    run.child.kill('SIGTERM');
    const res = await answer;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ok: boolean }).ok).toBe(true);
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toContain('"msg":"shutting down"');
    // A cleanly closed SQLite database in WAL mode leaves no -wal file behind.
    expect(existsSync(join(dataDir, 'facegate.db-wal'))).toBe(false);
  });

  it('refuses to start when one byte of a model file is flipped, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-models-'));
    for (const file of ['manifest.json', 'blazeface.onnx', 'facemesh.onnx']) copyFileSync(join(PROJECT_ROOT, 'models', file), join(dir, file));
    const target = join(dir, 'facemesh.onnx');
    const bytes = readFileSync(target);
    bytes[1000] ^= 0x80;
    writeFileSync(target, bytes);
    const override = join(dir, 'config.json');
    writeFileSync(override, JSON.stringify({ models: { load: ['blazeface', 'facemesh'] } }));
    const run = startServer({ FACEGATE_MODELS_DIR: dir, FACEGATE_CONFIG: override });
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain(`model file ${target} is corrupt`);
  });

  it('refuses to start on a bad configuration value, naming the key', async () => {
    const run = startServer({ FACEGATE_THREADS: 'many' });
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toContain('/models/intraOpThreads (from FACEGATE_THREADS) must be integer');
  });
});
