import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ModelName } from '../models/catalog';
import { loadModels, type ModelOptions, type ModelRegistry } from '../models/registry';
import { type AnalysisJob, CLOSE, type JobResult, type WorkerMessage, type WorkerSetup } from './analysis-protocol';
import { analyze, analyzeCounted, type AnalysisOptions, type Analyzer, assess, type CountedAnalysis, type FaceAnalysis, type FaceAssessment } from './analyze';
import { type CascadeResult, type CascadeStops, runCascade } from './cascade';
import { ImageError } from './decode';
import { appendRecord, type StageRecord } from './stages';

/** Analyses on the calling thread, with models loaded here. */
export function inProcess(models: ModelRegistry): Analyzer {
  return {
    analyze: (bytes, options, record) => analyze(bytes, models, options, record),
    assess: (bytes, options, record) => assess(bytes, models, options, record),
    analyzeCounted: (bytes, options, countAt, record) => analyzeCounted(bytes, models, options, countAt, record),
    cascade: (bytes, options, stops, record) => runCascade(bytes, models, options, stops, record),
    get loaded() {
      return models.loaded;
    },
  };
}

/** Crops arrive from the thread as plain Uint8Arrays; the rest of the service expects Buffers. */
function withBufferCrops(analysis: FaceAnalysis): FaceAnalysis {
  for (const face of analysis.faces) face.crop = Buffer.from(face.crop.buffer, face.crop.byteOffset, face.crop.byteLength);
  return analysis;
}

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

// Workers run the compiled analysis-worker.js in a build; from the TypeScript sources (tsx, jest)
// the thread registers tsx itself, as a worker does not inherit the parent's module loader.
const WORKER_ENTRY = join(__dirname, `analysis-worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
if (workerData.entry.endsWith('.ts')) require('tsx/cjs');
require(workerData.entry);
`;

interface Pending {
  job: AnalysisJob;
  /** Where the stage times the thread sends back go. */
  record?: StageRecord;
  resolve: (result: JobResult) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Settles when the thread has loaded its models, or could not. */
  started: Promise<void>;
  settleStart: (error?: Error) => void;
  current?: Pending;
  idleTimer?: NodeJS.Timeout;
}

export interface PoolOptions {
  size: number;
  /** Each thread's V8 young generation cap (`resourceLimits.maxYoungGenerationSizeMb`). */
  youngGenerationMb: number;
  /** A thread without work this long is stopped, freeing its models' memory; null keeps threads. */
  idleMs: number | null;
}

/**
 * Worker threads, each with its own model sessions, analysing one image at a time. onnxruntime
 * runs a model on the calling thread, so in-process analyses take turns on the main thread; the
 * pool runs `size` of them at once, on as many cores, and keeps the main thread free for HTTP.
 * Threads start on demand (or all at once with `start`).
 */
export class AnalysisPool implements Analyzer {
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly setup: WorkerSetup,
    private readonly options: PoolOptions,
  ) {}

  get size(): number {
    return this.options.size;
  }

  /** The models a started thread is ready to run; none while no thread is. */
  get loaded(): readonly ModelName[] {
    return [...this.slots].some((slot) => slot.ready) ? this.setup.models.load : [];
  }

  /** Starts every thread now and resolves once all have loaded their models. */
  async start(): Promise<void> {
    while (this.slots.size < this.options.size) this.spawn();
    await Promise.all([...this.slots].map((slot) => slot.started));
  }

  async analyze(bytes: Uint8Array, options: AnalysisOptions, record?: StageRecord): Promise<FaceAnalysis> {
    return withBufferCrops((await this.submit({ kind: 'analyze' }, bytes, options, record)) as FaceAnalysis);
  }

  async assess(bytes: Uint8Array, options: AnalysisOptions, record?: StageRecord): Promise<FaceAnalysis<FaceAssessment>> {
    return (await this.submit({ kind: 'assess' }, bytes, options, record)) as FaceAnalysis<FaceAssessment>;
  }

  async analyzeCounted(bytes: Uint8Array, options: AnalysisOptions, countAt: number, record?: StageRecord): Promise<CountedAnalysis> {
    const counted = (await this.submit({ kind: 'counted', countAt }, bytes, options, record)) as CountedAnalysis;
    return counted.analysis ? { ...counted, analysis: withBufferCrops(counted.analysis) } : counted;
  }

  async cascade(bytes: Uint8Array, options: AnalysisOptions, stops: CascadeStops, record?: StageRecord): Promise<CascadeResult> {
    return (await this.submit({ kind: 'cascade', stops }, bytes, options, record)) as CascadeResult;
  }

  private submit(task: AnalysisJob['task'], bytes: Uint8Array, options: AnalysisOptions, record?: StageRecord): Promise<JobResult> {
    if (this.closed) return Promise.reject(new PoolError('closed', 'the analysis pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, task, bytes, options, recordStages: record !== undefined }, record, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread: queued work is rejected with a PoolError, work under way finishes first. */
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
    for (let i = starting; i < this.queue.length && this.slots.size < this.options.size; i++) this.spawn();
  }

  private assign(slot: Slot, pending: Pending): void {
    clearTimeout(slot.idleTimer);
    slot.current = pending;
    slot.worker.postMessage(pending.job);
  }

  private spawn(): void {
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      workerData: { ...this.setup, entry: WORKER_ENTRY },
      resourceLimits: { maxYoungGenerationSizeMb: this.options.youngGenerationMb },
    });
    let settleStart: Slot['settleStart'] = () => undefined;
    const started = new Promise<void>((resolve, reject) => {
      settleStart = (error) => (error ? reject(error) : resolve());
    });
    // Only `start` awaits it; a thread spawned on demand reports its failure through its image.
    started.catch(() => undefined);
    const slot: Slot = { worker, ready: false, started, settleStart };
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
      return;
    }
    if (message.type === 'ready') {
      slot.ready = true;
      slot.settleStart();
    } else {
      const done = slot.current;
      slot.current = undefined;
      if (message.type === 'done') {
        if (done?.record && message.record) appendRecord(done.record, message.record);
        done?.resolve(message.result);
      }
      else done?.reject(message.code ? new ImageError(message.code, message.error) : new Error(message.error));
    }
    this.dispatch();
    if (slot.ready && !slot.current && !this.closed && this.options.idleMs !== null) {
      slot.idleTimer = setTimeout(() => void this.stop(slot), this.options.idleMs);
      slot.idleTimer.unref();
    }
  }

  /** Forgets a thread that failed or ended; its image is rejected with `error` and others go on. */
  private lose(slot: Slot, error: Error): void {
    if (!this.slots.delete(slot)) return;
    clearTimeout(slot.idleTimer);
    slot.settleStart(error);
    slot.current?.reject(this.closed ? new PoolError('closed', 'the analysis pool is closed') : error);
    slot.current = undefined;
    if (!this.closed) this.dispatch();
  }

  /**
   * Asks the thread to end once its analysis under way (or its model loading) is done: ending it
   * in the middle of a model run would abort the process.
   */
  private async stop(slot: Slot): Promise<void> {
    if (!this.slots.has(slot)) return;
    const ended = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
    slot.worker.postMessage(CLOSE);
    await ended;
  }
}

/**
 * The analyzer of the gate routes, started and ready: `workers` threads with models of their own,
 * or the calling thread when `workers` is 0.
 */
export async function startAnalyzer(models: ModelOptions & { workers: number; workerYoungGenerationMb: number }): Promise<Analyzer & { close(): Promise<void> }> {
  if (models.workers === 0) {
    const registry = await loadModels(models);
    return Object.assign(inProcess(registry), { close: () => registry.release() });
  }
  const pool = new AnalysisPool({ models }, { size: models.workers, idleMs: null, youngGenerationMb: models.workerYoungGenerationMb });
  await pool.start();
  return pool;
}
