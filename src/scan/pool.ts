import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { Profile, ProfiledImage } from './profile';
import { CLOSE, type ProfileJob, type WorkerMessage, type WorkerSetup } from './worker-protocol';

/**
 * Work the pool could not do: `closed` (the pool was closed first), `models` (a worker's models did
 * not load, so no image will fare better) or `lost` (the worker ended while on this image).
 */
export class PoolError extends Error {
  constructor(
    readonly kind: 'closed' | 'models' | 'lost',
    message: string,
  ) {
    super(message);
  }
}

/** The image itself could not be analysed (not decodable, too large...). */
export class ImageFailure extends Error {}

// Workers run the compiled worker.js in a build; from the TypeScript sources (tsx, jest) the
// thread registers tsx itself, as a worker does not inherit the parent's module loader.
const WORKER_ENTRY = join(__dirname, `worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.entry.endsWith('.ts')) require('tsx/cjs');
require(workerData.entry);
`;

interface Pending {
  job: ProfileJob;
  resolve: (result: ProfiledImage) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  current?: Pending;
  idleTimer?: NodeJS.Timeout;
}

/**
 * A fixed number of worker threads, each with its own model sessions, profiling one image at a
 * time: analysis of a batch runs off the main thread, which stays free for the synchronous APIs.
 * Threads start on demand and stop after `idleMs` without work.
 */
export class AnalysisPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly setup: WorkerSetup,
    readonly size: number,
    private readonly idleMs: number,
  ) {}

  profile(file: string, bytes: Uint8Array): Promise<ProfiledImage> {
    if (this.closed) return Promise.reject(new PoolError('closed', 'the analysis pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, file, bytes }, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread; queued and running work is rejected with a PoolError. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new PoolError('closed', 'the analysis pool is closed'));
    await Promise.all([...this.slots].map((slot) => this.stop(slot)));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (!slot.ready || slot.current || this.queue.length === 0) continue;
      this.assign(slot, this.queue.shift() as Pending);
    }
    const starting = [...this.slots].filter((s) => !s.ready).length;
    for (let i = starting; i < this.queue.length && this.slots.size < this.size; i++) this.spawn();
  }

  private assign(slot: Slot, pending: Pending): void {
    clearTimeout(slot.idleTimer);
    slot.current = pending;
    slot.worker.postMessage(pending.job);
  }

  private spawn(): void {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { ...this.setup, entry: WORKER_ENTRY } });
    const slot: Slot = { worker, ready: false };
    this.slots.add(slot);
    worker.on('message', (message: WorkerMessage) => this.receive(slot, message));
    worker.on('error', (error) => this.lose(slot, new PoolError('lost', `an analysis worker stopped: ${error.message}`)));
    worker.on('exit', (code) => this.lose(slot, new PoolError('lost', `an analysis worker exited with code ${code}`)));
  }

  private receive(slot: Slot, message: WorkerMessage): void {
    if (message.type === 'fatal') {
      const error = new PoolError('models', `the analysis models could not load: ${message.error}`);
      for (const pending of this.queue.splice(0)) pending.reject(error);
      this.lose(slot, error);
      void slot.worker.terminate();
      return;
    }
    if (message.type === 'ready') {
      slot.ready = true;
    } else {
      const done = slot.current;
      slot.current = undefined;
      if (message.type === 'profiled') {
        done?.resolve({ profile: message.profile as Profile, thumbnail: Buffer.from(message.thumbnail) });
      } else {
        done?.reject(new ImageFailure(message.error));
      }
    }
    this.dispatch();
    if (slot.ready && !slot.current) {
      slot.idleTimer = setTimeout(() => void this.stop(slot), this.idleMs);
      slot.idleTimer.unref();
    }
  }

  /** Forgets a thread that failed or ended; its image is rejected with `error` and others go on. */
  private lose(slot: Slot, error: Error): void {
    if (!this.slots.delete(slot)) return;
    clearTimeout(slot.idleTimer);
    slot.current?.reject(this.closed ? new PoolError('closed', 'the analysis pool is closed') : error);
    slot.current = undefined;
    if (!this.closed) this.dispatch();
  }

  private async stop(slot: Slot): Promise<void> {
    if (!this.slots.has(slot)) return;
    const ended = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
    if (slot.ready && !slot.current) slot.worker.postMessage(CLOSE);
    else void slot.worker.terminate();
    await ended;
  }
}
