/**
 * Child process of bench/peer.ts: loads @vladmandic/human on the tfjs WASM backend once (face
 * detector, mesh, iris and description models only), warms up, waits for the parent's start
 * signal, then decodes and analyses one JPEG in a loop for the given number of seconds.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import type * as tfjs from '@tensorflow/tfjs-core';
import type { Config, Result } from '@vladmandic/human';

export interface PeerJob {
  image: Uint8Array;
  seconds: number;
}
export interface PeerReady {
  kind: 'ready';
  library: string;
  wasmFile: string;
  loadMs: number;
}
export interface PeerDone {
  kind: 'done';
  images: number;
  elapsedMs: number;
  detectMs: number[];
  faces: number;
  meshPoints: number;
  irisPoints: number;
  descriptorLength: number;
}
/** What a worker reports; the parent sends it a PeerJob, then 'start' once every worker is ready. */
export type PeerMessage = PeerReady | PeerDone;

const HUMAN_DIST = dirname(require.resolve('@vladmandic/human'));
// The package's exports map spells its subpaths without './', so Node refuses
// '@vladmandic/human/dist/human.node-wasm.js'; the wasm build is required by its file path instead.
const { Human } = require(join(HUMAN_DIST, 'human.node-wasm.js')) as typeof import('@vladmandic/human');

const REQUIRED_MODELS = ['blazeface', 'facemesh', 'iris', 'faceres'];
const WARM_UP_RUNS = 3;

const humanConfig: Partial<Config> = {
  backend: 'wasm',
  // A directory path: tfjs-backend-wasm's emscripten loader reads the .wasm file with fs in Node.
  wasmPath: `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`,
  modelBasePath: `${pathToFileURL(join(HUMAN_DIST, '..', 'models')).href}/`,
  // Human reuses earlier results when a frame looks like the previous one; every frame here is the same image.
  cacheSensitivity: 0,
  filter: { enabled: false },
  gesture: { enabled: false },
  body: { enabled: false },
  hand: { enabled: false },
  object: { enabled: false },
  segmentation: { enabled: false },
  face: {
    enabled: true,
    detector: { enabled: true },
    mesh: { enabled: true },
    iris: { enabled: true },
    description: { enabled: true },
    attention: { enabled: false },
    emotion: { enabled: false },
    antispoof: { enabled: false },
    liveness: { enabled: false },
    gear: { enabled: false },
  },
};

/** tfjs without tfjs-node has no file:// loader and Node's fetch refuses file: URLs, so models are read from disk here. */
function registerFileModelLoader(tf: typeof tfjs): void {
  const fileModel = (jsonPath: string): tfjs.io.IOHandler => ({
    load: async () =>
      tf.io.getModelArtifactsForJSON(JSON.parse(await readFile(jsonPath, 'utf8')) as tfjs.io.ModelJSON, async (manifest) => {
        const shards = await Promise.all(manifest.flatMap((group) => group.paths).map((path) => readFile(join(dirname(jsonPath), path))));
        return [manifest.flatMap((group) => group.weights), shards.map((shard) => new Uint8Array(shard).buffer)];
      }),
  });
  const fileRouter = (url: string | string[]): tfjs.io.IOHandler | null =>
    typeof url === 'string' && url.startsWith('file://') ? fileModel(fileURLToPath(url)) : null;
  // tfjs's router type omits the null that a router returns for URLs it does not serve.
  tf.io.registerLoadRouter(fileRouter as (url: string | string[]) => tfjs.io.IOHandler);
}

/** The binary tfjs-backend-wasm picks for these capabilities (its getPathToWasmBinary). */
function wasmFile(wasm: { simd?: boolean; multithread?: boolean }): string {
  if (wasm.simd && wasm.multithread) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return wasm.simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

/** Decodes the JPEG to an RGB tensor as Human's Node demo does with tfjs-node's decodeImage, then times detect() alone. */
async function analyse(human: InstanceType<typeof Human>, tf: typeof tfjs, jpeg: Uint8Array): Promise<{ result: Result; detectMs: number }> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const input = tf.tidy(() => tf.cast(tf.expandDims(tf.tensor3d(data, [info.height, info.width, 3], 'int32'), 0), 'float32'));
  const start = performance.now();
  const result = await human.detect(input);
  const detectMs = performance.now() - start;
  tf.dispose(input);
  if (result.error) throw new Error(`Human: ${result.error}`);
  return { result, detectMs };
}

function nextMessage<T>(): Promise<T> {
  return new Promise((resolve) => process.once('message', resolve));
}

function report(message: PeerMessage): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('bench/peer-worker.ts runs as a child process of bench/peer.ts');
  return new Promise((resolve, reject) => send(message, undefined, {}, (error) => (error ? reject(error) : resolve())));
}

async function main(): Promise<void> {
  const job = await nextMessage<PeerJob>();
  const loadStart = performance.now();
  const human = new Human(humanConfig);
  const tf = human.tf as typeof tfjs;
  registerFileModelLoader(tf);
  await human.load();
  const loadMs = performance.now() - loadStart;
  const missing = REQUIRED_MODELS.filter((model) => !human.models.loaded().includes(model));
  if (missing.length > 0) throw new Error(`Human did not load ${missing.join(', ')}`);
  for (let i = 0; i < WARM_UP_RUNS; i++) await analyse(human, tf, job.image);
  await report({ kind: 'ready', library: `@vladmandic/human ${human.version}, tfjs ${tf.version_core}`, wasmFile: wasmFile(human.env.wasm), loadMs });

  await nextMessage<'start'>();
  const detectMs: number[] = [];
  let faces = 0;
  let last: Result;
  const start = performance.now();
  const end = start + job.seconds * 1000;
  do {
    const run = await analyse(human, tf, job.image);
    detectMs.push(run.detectMs);
    faces += run.result.face.length;
    last = run.result;
  } while (performance.now() < end);
  const elapsedMs = performance.now() - start;
  const face = last.face[0];
  await report({
    kind: 'done',
    images: detectMs.length,
    elapsedMs,
    detectMs,
    faces,
    meshPoints: face?.mesh.length ?? 0,
    irisPoints: (face?.annotations.leftEyeIris?.length ?? 0) + (face?.annotations.rightEyeIris?.length ?? 0),
    descriptorLength: face?.embedding?.length ?? 0,
  });
  process.disconnect();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
