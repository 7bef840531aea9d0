import { randomUUID } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import { analysisOptions, type Config } from '../config';
import { AnalysisPool, PoolError } from '../pipeline/analysis-pool';
import type { AnalysisOptions } from '../pipeline/analyze';
import type { ScanStore, ScanTask, UploadedFile } from '../store';
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

/**
 * Runs batch scans in the background, one task after the other, each with as many images in flight
 * as the pool has workers. Every result is written as it comes, so a restart loses at most the
 * images in flight, which `resume` analyses again.
 */
export class Scanner {
  private readonly queue: ScanTask[] = [];
  private running: Promise<void> | undefined;
  private scanning = false;
  /** The smoothed pace of the task being scanned. */
  private readonly etas = new Map<string, SmoothedEta>();
  private closing = false;

  constructor(
    private readonly scans: ScanStore,
    private readonly pool: AnalysisPool,
    private readonly options: { analysis: AnalysisOptions; thumbnailSize: number; maxAttempts: number },
    private readonly logger: Logger,
    private readonly observer?: ScanObserver,
  ) {}

  /** Tasks this process has queued and not started yet. */
  get pendingTasks(): number {
    return this.queue.length;
  }

  /** Tasks being scanned now: 0 or 1. */
  get runningTasks(): number {
    return this.scanning ? 1 : 0;
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
    this.enqueue(task);
    return task;
  }

  /** Erases the intakes an earlier process left incomplete and queues the tasks it left pending or running; returns how many are queued. */
  async resume(): Promise<number> {
    await this.scans.eraseIncompleteIntakes();
    const unfinished = await this.scans.unfinished();
    for (const task of unfinished) this.enqueue(task);
    return unfinished.length;
  }

  /** The smoothed pace of `taskId` while this process scans it. */
  etaOf(taskId: string): SmoothedEta | undefined {
    return this.etas.get(taskId);
  }

  /** Resolves once every queued task has ended. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops taking images; those in flight are left pending for the next start. */
  async close(): Promise<void> {
    this.closing = true;
    await this.pool.close();
    await this.idle();
  }

  private enqueue(task: ScanTask): void {
    this.queue.push(task);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  private async drain(): Promise<void> {
    for (let task = this.queue.shift(); task && !this.closing; task = this.queue.shift()) {
      this.scanning = true;
      try {
        await this.run(task);
      } catch (error) {
        if (this.closing) return;
        this.logger.error({ err: error, task: task.id }, 'scan task failed');
        await this.scans.fail(task.id, (error as Error).message, new Date().toISOString());
        this.observer?.taskEnded('failed');
      } finally {
        this.scanning = false;
      }
    }
  }

  private async run({ id: taskId, client }: ScanTask): Promise<void> {
    // Deleted (or reset away) while it waited.
    if (!(await this.scans.task(client, taskId))) return;
    const started = new Date();
    await this.scans.start(taskId, started.toISOString());
    const eta = new SmoothedEta(started.getTime());
    this.etas.set(taskId, eta);
    const positions = await this.scans.pendingPositions(taskId);
    const lane = async () => {
      for (let position = positions.shift(); position !== undefined && !this.closing; position = positions.shift()) {
        await this.scanFile(taskId, position);
        eta.done(1, Date.now());
      }
    };
    await Promise.all(Array.from({ length: this.pool.size }, lane)).finally(() => this.etas.delete(taskId));
    if (!this.closing && (await this.scans.task(client, taskId))) {
      await this.scans.finish(taskId, new Date().toISOString());
      this.observer?.taskEnded('done');
    }
  }

  private async scanFile(taskId: string, position: number): Promise<void> {
    const file = await this.scans.claim(taskId, position);
    if (!file) return;
    const { maxAttempts } = this.options;
    if (file.attempts > maxAttempts) {
      const error = `the analysis did not finish in ${maxAttempts} attempts: the service stopped during each`;
      await this.scans.recordFailure(taskId, position, error, new Date().toISOString());
      this.observer?.fileScanned('failed');
      return;
    }
    try {
      const { profile, thumbnail } = await profileImage(file.name, file.bytes, this.pool, this.options.analysis, this.options.thumbnailSize);
      await this.scans.recordProfile(taskId, position, profile, thumbnail, new Date().toISOString());
      this.observer?.fileScanned('profiled');
    } catch (error) {
      if (error instanceof PoolError && (error.kind === 'closed' || error.kind === 'models')) throw error;
      await this.scans.recordFailure(taskId, position, (error as Error).message, new Date().toISOString());
      this.observer?.fileScanned('failed');
    }
  }
}

/** The service's scanner: `config.scan.workers` analysis threads over the store's scans. */
export function createScanner(config: Config, scans: ScanStore, logger: Logger, observer?: ScanObserver): Scanner {
  const pool = new AnalysisPool(
    { models: { ...config.models, intraOpThreads: config.scan.threadsPerWorker } },
    { size: config.scan.workers, idleMs: config.scan.idleWorkerMs, youngGenerationMb: config.models.workerYoungGenerationMb },
  );
  const { thumbnailSize, maxAttempts } = config.scan;
  return new Scanner(scans, pool, { analysis: analysisOptions(config), thumbnailSize, maxAttempts }, logger, observer);
}
