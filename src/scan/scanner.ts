import { randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import { analysisOptions, type Config } from '../config';
import { AnalysisPool, PoolError } from '../pipeline/analysis-pool';
import type { AnalysisOptions } from '../pipeline/analyze';
import type { LeasedFile, ScanStore, ScanTask, Settled, UploadedFile } from '../store';
import { SmoothedEta } from './eta';
import { profileImage } from './profile';

export interface TaskProgress {
  /** Share done, 0–100. */
  percent: number;
  /** Seconds left at the pace of the current run; null until it has a pace, and once finished. */
  etaSeconds: number | null;
}

/**
 * How far a task is, and when it should end: at the smoothed recent pace of this process's scan
 * (`eta`, `Scanner.etaOf`) when there is one, else at the pace its current run has kept so far.
 */
export function progressOf(task: ScanTask, now: Date, eta?: SmoothedEta): TaskProgress {
  const percent = task.total === 0 ? 100 : (100 * task.processed) / task.total;
  const doneThisRun = task.processed - task.startedProcessed;
  if (task.status !== 'running' || !task.startedAt || doneThisRun <= 0) return { percent, etaSeconds: null };
  const remaining = task.total - task.processed;
  const smoothed = eta?.secondsLeft(remaining);
  if (smoothed !== undefined && smoothed !== null) return { percent, etaSeconds: smoothed };
  const elapsed = (now.getTime() - Date.parse(task.startedAt)) / 1000;
  return { percent, etaSeconds: (remaining * elapsed) / doneThisRun };
}

/** What the scanner tells the metrics as it goes. */
export interface ScanObserver {
  fileScanned(outcome: 'profiled' | 'failed'): void;
  taskEnded(status: 'done' | 'failed'): void;
}

/** Bytes of files stored per transaction of an intake: a few tens of milliseconds of writing. */
const INTAKE_BATCH_BYTES = 8 * 1024 * 1024;

export interface ScannerOptions {
  analysis: AnalysisOptions;
  thumbnailSize: number;
  maxAttempts: number;
  /** How long a claimed file is this scanner's before any scanner may take it again. */
  leaseSeconds: number;
  /** How often a scanner with nothing to do looks for files again (other replicas' uploads, leases run out). */
  pollMs: number;
}

/**
 * Runs batch scans in the background: as many lanes as the pool has workers, each taking the next
 * file from the store's queue (oldest task first) under a lease, analysing it and settling it.
 * Every result is written as it comes, so a stop loses at most the files in flight, which any
 * scanner takes again once their leases end (at once after a clean stop, which releases them).
 * With PostgreSQL, every replica's scanner takes files of every task; the one settling a task's
 * last file finishes it.
 */
export class Scanner {
  /** This scanner's name on the leases it holds. */
  private readonly holder = randomUUID();
  private lanes: Promise<void>[] | undefined;
  /** Lanes taking or analysing a file now (the others sleep until woken). */
  private busy = 0;
  private readonly sleeping: (() => void)[] = [];
  private readonly waitingForIdle: (() => void)[] = [];
  private poll: NodeJS.Timeout | undefined;
  /** The task this scanner took its latest file from, with its smoothed pace here. */
  private current: { taskId: string; eta: SmoothedEta } | undefined;
  private closing = false;

  constructor(
    private readonly scans: ScanStore,
    private readonly pool: AnalysisPool,
    private readonly options: ScannerOptions,
    private readonly logger: Logger,
    private readonly observer?: ScanObserver,
  ) {}

  /** Unfinished tasks in the store, every replica's: waiting for a first file to be taken, or running. */
  async queue(): Promise<{ pending: number; running: number }> {
    const unfinished = await this.scans.unfinished();
    const running = unfinished.filter((task) => task.status === 'running').length;
    return { pending: unfinished.length - running, running };
  }

  /**
   * Stores the files as a new collection of `client` and queues its scan; returns its task as it stands. The
   * files go in in transactions of about INTAKE_BATCH_BYTES with a turn of the event loop between
   * them, so that storing a large upload does not hold up every other request; if storing fails,
   * nothing of the task is kept.
   */
  async submit(client: string, files: Iterable<UploadedFile>): Promise<ScanTask> {
    const id = randomUUID();
    const collection = randomUUID();
    await this.scans.beginIntake({ id, client, collection, createdAt: new Date().toISOString() });
    try {
      let stored = 0;
      let batch: UploadedFile[] = [];
      let batchBytes = 0;
      const store = async () => {
        await this.scans.addFiles(id, stored, batch);
        stored += batch.length;
        batch = [];
        batchBytes = 0;
      };
      for (const file of files) {
        batch.push(file);
        batchBytes += file.bytes.length;
        if (batchBytes >= INTAKE_BATCH_BYTES) {
          await store();
          await setImmediate();
        }
      }
      await store();
      await this.scans.completeIntake(id, stored);
    } catch (error) {
      await this.scans.deleteCollection(client, collection);
      throw error;
    }
    const task = (await this.scans.task(client, id)) as ScanTask;
    this.wake();
    return task;
  }

  /** Takes back what stopped scanners abandoned (ScanStore.reclaimAbandoned) and starts taking files; returns how many tasks are unfinished. */
  async resume(): Promise<number> {
    const unfinished = await this.scans.reclaimAbandoned(new Date());
    this.wake();
    return unfinished;
  }

  /** The smoothed pace of `taskId` while this scanner takes its files. */
  etaOf(taskId: string): SmoothedEta | undefined {
    return this.current?.taskId === taskId ? this.current.eta : undefined;
  }

  /** Resolves once this scanner finds no file left to take (other scanners may still hold some). */
  idle(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.waitingForIdle.push(resolve));
  }

  /** Stops taking files and lets go of the leases of those in flight, so that any scanner takes them at once. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.poll);
    this.wakeSleepers();
    await this.pool.close();
    await Promise.all(this.lanes ?? []);
    this.busy = 0;
    for (const resolve of this.waitingForIdle.splice(0)) resolve();
    await this.scans.releaseLeases(this.holder);
  }

  /** Starts the lanes the first time; later, wakes those asleep to look for files. */
  private wake(): void {
    if (this.closing) return;
    if (this.lanes) {
      this.wakeSleepers();
      return;
    }
    this.busy = this.pool.size;
    this.lanes = Array.from({ length: this.pool.size }, () => this.lane());
    this.poll = setInterval(() => this.wake(), this.options.pollMs).unref();
  }

  private wakeSleepers(): void {
    const sleepers = this.sleeping.splice(0);
    this.busy += sleepers.length;
    for (const wakeUp of sleepers) wakeUp();
  }

  private sleep(): Promise<void> {
    if (this.closing) return Promise.resolve();
    this.busy--;
    if (this.busy === 0) for (const resolve of this.waitingForIdle.splice(0)) resolve();
    return new Promise((resolve) => this.sleeping.push(resolve));
  }

  private async lane(): Promise<void> {
    while (!this.closing) {
      try {
        const file = await this.scans.claimNext({ holder: this.holder, seconds: this.options.leaseSeconds }, new Date().toISOString());
        if (file) await this.scanFile(file);
        else await this.sleep();
      } catch (error) {
        // The store failed: the file's lease runs out and it is taken again later.
        if (this.closing) return;
        this.logger.error({ err: error }, 'scan queue unavailable');
        await this.sleep();
      }
    }
  }

  private async scanFile(file: LeasedFile): Promise<void> {
    if (this.current?.taskId !== file.taskId) this.current = { taskId: file.taskId, eta: new SmoothedEta(Date.now()) };
    const { maxAttempts } = this.options;
    if (file.attempts > maxAttempts) {
      const error = `the analysis did not finish in ${maxAttempts} attempts: the service stopped during each`;
      this.settled(file, 'failed', await this.scans.recordFailure(file.taskId, file.position, error, new Date().toISOString()));
      return;
    }
    try {
      const { profile, thumbnail } = await profileImage(file.name, file.bytes, this.pool, this.options.analysis, this.options.thumbnailSize);
      this.settled(file, 'profiled', await this.scans.recordProfile(file.taskId, file.position, profile, thumbnail, new Date().toISOString()));
    } catch (error) {
      if (error instanceof PoolError && error.kind === 'closed') return;
      if (error instanceof PoolError && error.kind === 'models') {
        this.logger.error({ err: error, task: file.taskId }, 'scan task failed');
        if (await this.scans.fail(file.taskId, error.message, new Date().toISOString())) this.observer?.taskEnded('failed');
        return;
      }
      this.settled(file, 'failed', await this.scans.recordFailure(file.taskId, file.position, (error as Error).message, new Date().toISOString()));
    }
  }

  private settled(file: LeasedFile, outcome: 'profiled' | 'failed', settled: Settled): void {
    if (settled === 'stale') return;
    if (this.current?.taskId === file.taskId) this.current.eta.done(1, Date.now());
    this.observer?.fileScanned(outcome);
    if (settled === 'finished') this.observer?.taskEnded('done');
  }
}

/** The service's scanner: `config.scan.workers` analysis threads over the store's scans. */
export function createScanner(config: Config, scans: ScanStore, logger: Logger, observer?: ScanObserver): Scanner {
  const pool = new AnalysisPool(
    { models: { ...config.models, intraOpThreads: config.scan.threadsPerWorker } },
    { size: config.scan.workers, idleMs: config.scan.idleWorkerMs, youngGenerationMb: config.models.workerYoungGenerationMb },
  );
  const { thumbnailSize, maxAttempts, leaseSeconds, pollMs } = config.scan;
  return new Scanner(scans, pool, { analysis: analysisOptions(config), thumbnailSize, maxAttempts, leaseSeconds, pollMs }, logger, observer);
}
