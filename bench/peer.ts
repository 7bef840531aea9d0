/**
 * `npx tsx bench/peer.ts [--processes N] [--seconds S] [--size 640x480|1920x1080]`: throughput and
 * detect() latency of the JavaScript peer, @vladmandic/human on the tfjs WASM backend, doing face
 * detection + mesh + iris + description (nothing else) on the frames of bench/frames.ts: one
 * process per core (default), each loads Human once, warms up 3 runs, then decodes and analyses
 * the JPEG in a loop for S seconds (default 20). Both sizes unless --size is given.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PORTRAIT, portraitAvailable, portraitFrame } from './frames';
import type { PeerJob, PeerMessage } from './peer-worker';
import { argValue, summarize } from './stats';

export interface PeerThroughput {
  imagesPerSecond: number;
  medianMs: number;
  p90Ms: number;
  facesPerImage: number;
  descriptorLength: number;
}

interface PeerRun extends PeerThroughput {
  library: string;
  wasmFile: string;
  meshPoints: number;
  irisPoints: number;
  processes: { loadMs: number; images: number; imagesPerSecond: number; medianMs: number; p90Ms: number }[];
}

interface Worker {
  child: ChildProcess;
  /** The worker's next message of this kind; rejects if the worker exits first. */
  message<K extends PeerMessage['kind']>(kind: K): Promise<Extract<PeerMessage, { kind: K }>>;
}

function startWorker(job: PeerJob): Worker {
  const child = fork(join(__dirname, 'peer-worker.ts'), [], { execArgv: ['--import', 'tsx'], serialization: 'advanced' });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`a peer worker exited (${signal ?? `code ${code}`}) before reporting`))),
  );
  child.send(job);
  return {
    child,
    message: <K extends PeerMessage['kind']>(kind: K) =>
      Promise.race([
        new Promise<Extract<PeerMessage, { kind: K }>>((resolve) =>
          child.on('message', (message: PeerMessage) => message.kind === kind && resolve(message as Extract<PeerMessage, { kind: K }>)),
        ),
        exited,
      ]),
  };
}

async function runPeer(options: { processes: number; seconds: number; image: Buffer }): Promise<PeerRun> {
  const workers = Array.from({ length: options.processes }, () => startWorker({ image: options.image, seconds: options.seconds }));
  try {
    const ready = await Promise.all(workers.map((worker) => worker.message('ready')));
    const done = await Promise.all(
      workers.map((worker) => {
        worker.child.send('start');
        return worker.message('done');
      }),
    );
    const images = done.reduce((sum, run) => sum + run.images, 0);
    return {
      imagesPerSecond: done.reduce((sum, run) => sum + run.images / (run.elapsedMs / 1000), 0),
      ...summarizeMs(done.flatMap((run) => run.detectMs)),
      facesPerImage: done.reduce((sum, run) => sum + run.faces, 0) / images,
      descriptorLength: Math.min(...done.map((run) => run.descriptorLength)),
      library: ready[0].library,
      wasmFile: ready[0].wasmFile,
      meshPoints: Math.min(...done.map((run) => run.meshPoints)),
      irisPoints: Math.min(...done.map((run) => run.irisPoints)),
      processes: done.map((run, i) => ({ loadMs: ready[i].loadMs, images: run.images, imagesPerSecond: run.images / (run.elapsedMs / 1000), ...summarizeMs(run.detectMs) })),
    };
  } finally {
    for (const worker of workers) worker.child.kill();
  }
}

function summarizeMs(samples: number[]): { medianMs: number; p90Ms: number } {
  const { median, p90 } = summarize(samples);
  return { medianMs: median, p90Ms: p90 };
}

/**
 * Human analysing `image` in a loop in `processes` processes for `seconds`: images/s summed over the
 * processes (JPEG decode included), detect() median and p90 over every call of every process.
 */
export async function peerThroughput(options: { processes: number; seconds: number; image: Buffer }): Promise<PeerThroughput> {
  const { imagesPerSecond, medianMs, p90Ms, facesPerImage, descriptorLength } = await runPeer(options);
  return { imagesPerSecond, medianMs, p90Ms, facesPerImage, descriptorLength };
}

const SIZES: Record<string, [number, number]> = { '640x480': [640, 480], '1920x1080': [1920, 1080] };

async function main(): Promise<void> {
  const processes = argValue('processes', availableParallelism());
  const seconds = argValue('seconds', 20);
  const sizeIndex = process.argv.indexOf('--size');
  const sizes = sizeIndex >= 0 ? [process.argv[sizeIndex + 1]] : Object.keys(SIZES);
  for (const size of sizes) if (!SIZES[size]) throw new Error(`--size takes one of ${Object.keys(SIZES).join(', ')}`);
  console.log(
    `${processes} processes x ${seconds} s after 3 warm-up runs; face detector + mesh + iris + description only; ` +
      (portraitAvailable ? `face from ${PORTRAIT}` : 'no photo set: synthetic gray frames without a face'),
  );
  for (const size of sizes) {
    const [width, height] = SIZES[size];
    const image = await portraitFrame(width, height);
    const run = await runPeer({ processes, seconds, image });
    console.log(`\n${size} JPEG (${image.length} bytes), ${run.library}, ${run.wasmFile}`);
    console.log(`${run.imagesPerSecond.toFixed(1)} images/s in total (decode included); detect() median ${run.medianMs.toFixed(1)} ms, p90 ${run.p90Ms.toFixed(1)} ms`);
    console.log(
      `faces per image ${run.facesPerImage.toFixed(2)}; last face: ${run.meshPoints} mesh points, ${run.irisPoints} of them iris, descriptor length ${run.descriptorLength}`,
    );
    console.log('| process | load ms | images | images/s | detect() median ms | detect() p90 ms |');
    console.log('|---|---:|---:|---:|---:|---:|');
    run.processes.forEach((p, i) =>
      console.log(`| ${i + 1} | ${p.loadMs.toFixed(0)} | ${p.images} | ${p.imagesPerSecond.toFixed(1)} | ${p.medianMs.toFixed(1)} | ${p.p90Ms.toFixed(1)} |`),
    );
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
