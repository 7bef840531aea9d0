import express, { type Express, type Request, type RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Keyring } from '../config/api-keys';
import type { Analyzer } from '../pipeline/analyze';
import { type StageRecord, stageRecord } from '../pipeline/stages';
import type { ScanObserver } from '../scan/scanner';
import type { AdmissionObserver, Refusal } from './admission';
import { requireKey } from './auth';
import { errorHandler, notFound } from './errors';

/** Where a verdict was given: the gate families, and the two decisions of the enroll family. */
export type VerdictFamily = 'nodeflux' | 'qitech' | 'enroll' | 'authenticate';

/** From 5 ms to the analysis deadline (20 s by default). */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20];

/** The route pattern a request matched (never its raw path, which holds usernames and keys), or `unmatched`. */
function routeOf(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  return typeof route?.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

/**
 * Every metric of the service, in one registry of its own (never prom-client's global one, so two
 * apps in one process do not share counters). The layers below report through small observer
 * interfaces (`AdmissionObserver`, `ScanObserver`) and stage records; only this module knows prom-client.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private admissionQueue?: { readonly active: number; readonly queued: number };
  private scanner?: { queue(): Promise<{ pending: number; running: number }> };

  private readonly requestSeconds = new Histogram({
    name: 'facegate_http_request_duration_seconds',
    help: 'HTTP requests by method, Express route pattern and status: time to the last byte of the answer (_count: requests).',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly verdicts = new Counter({
    name: 'facegate_verdicts_total',
    help: 'Verdicts given, by API family, outcome (accepted, rejected) and reason.',
    labelNames: ['family', 'outcome', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly stageSeconds = new Histogram({
    name: 'facegate_stage_duration_seconds',
    help: 'Time of each pipeline stage of the gate routes, by analysis kind (analyze, assess, cascade) and stage.',
    labelNames: ['analysis', 'stage'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly modelSeconds = new Histogram({
    name: 'facegate_model_run_duration_seconds',
    help: 'Time of each model run (one batch) of the gate routes, by model.',
    labelNames: ['model'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly admissionWaitSeconds = new Histogram({
    name: 'facegate_admission_wait_seconds',
    help: 'Time an analysis request waited in the admission queue for its turn.',
    buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly admissionRefusals = new Counter({
    name: 'facegate_admission_refusals_total',
    help: 'Analysis requests turned away with 503 by the admission queue, by reason (queue_full, wait_timeout, evicted).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly scanFiles = new Counter({
    name: 'facegate_scan_files_total',
    help: 'Files of batch scans analysed by this process, by outcome (profiled, failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly scanTasksEnded = new Counter({
    name: 'facegate_scan_tasks_ended_total',
    help: 'Batch scan tasks this process finished, by status (done, failed).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  private readonly modelsLoadSeconds = new Gauge({
    name: 'facegate_models_load_seconds',
    help: 'Time the gate analyzer took at start-up to load and check every model (all worker threads).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const metrics = this;
    new Gauge({
      name: 'facegate_admission_queue',
      help: 'Analysis requests in the admission queue now, by state (running, waiting).',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        if (!metrics.admissionQueue) return;
        this.set({ state: 'running' }, metrics.admissionQueue.active);
        this.set({ state: 'waiting' }, metrics.admissionQueue.queued);
      },
    });
    new Gauge({
      name: 'facegate_scan_tasks',
      help: 'Batch scan tasks unfinished in the store (every replica\'s), by status (pending, running).',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        if (!metrics.scanner) return;
        const { pending, running } = await metrics.scanner.queue();
        this.set({ status: 'pending' }, pending);
        this.set({ status: 'running' }, running);
      },
    });
  }

  /** Times every request, labelled once its answer is sent (the route is known by then). */
  readonly requests: RequestHandler = (req, res, next) => {
    const end = this.requestSeconds.startTimer();
    res.once('finish', () => end({ method: req.method, route: routeOf(req), status: String(res.statusCode) }));
    next();
  };

  verdict(family: VerdictFamily, accepted: boolean, reason: string): void {
    this.verdicts.inc({ family, outcome: accepted ? 'accepted' : 'rejected', reason });
  }

  readonly admission: AdmissionObserver = {
    admitted: (waitedMs: number) => this.admissionWaitSeconds.observe(waitedMs / 1000),
    refused: (why: Refusal) => this.admissionRefusals.inc({ reason: why }),
  };

  readonly scan: ScanObserver = {
    fileScanned: (outcome) => this.scanFiles.inc({ outcome }),
    taskEnded: (status) => this.scanTasksEnded.inc({ status }),
  };

  /** The queue and the scanner whose sizes the gauges read at each scrape. */
  watch(admissionQueue: ServiceMetrics['admissionQueue'], scanner: ServiceMetrics['scanner']): void {
    this.admissionQueue = admissionQueue;
    this.scanner = scanner;
  }

  modelsLoaded(ms: number): void {
    this.modelsLoadSeconds.set(ms / 1000);
  }

  /** `analyzer`, with the stage and model times of every analysis it runs recorded here. */
  observing(analyzer: Analyzer): Analyzer {
    const recorded = async <T>(kind: 'analyze' | 'assess' | 'counted' | 'cascade', work: (record: StageRecord) => Promise<T>): Promise<T> => {
      const record = stageRecord();
      try {
        return await work(record);
      } finally {
        this.recordStages(kind, record);
      }
    };
    return {
      analyze: (bytes, options) => recorded('analyze', (record) => analyzer.analyze(bytes, options, record)),
      assess: (bytes, options) => recorded('assess', (record) => analyzer.assess(bytes, options, record)),
      analyzeCounted: (bytes, options, countAt) => recorded('counted', (record) => analyzer.analyzeCounted(bytes, options, countAt, record)),
      cascade: (bytes, options, stops) => recorded('cascade', (record) => analyzer.cascade(bytes, options, stops, record)),
      get loaded() {
        return analyzer.loaded;
      },
    };
  }

  private recordStages(analysis: string, record: StageRecord): void {
    for (const { stage, ms } of record.stages) this.stageSeconds.observe({ analysis, stage }, ms / 1000);
    for (const { model, ms } of record.runs) this.modelSeconds.observe({ model }, ms / 1000);
  }
}

/** `GET /metrics` in Prometheus' text format; with `requireAdminKey`, only for admin keys (any client's). */
export function metricsRoutes(metrics: ServiceMetrics, keyring: Keyring, requireAdminKey: boolean): Router {
  const router = Router();
  const guard: RequestHandler[] = requireAdminKey ? [requireKey(keyring, 'admin')] : [];
  router.get('/metrics', ...guard, async (_req, res) => {
    res.set('Cache-Control', 'no-store').type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}

/** The app of the separate metrics listener (`metrics.port`): `/metrics` and nothing else. */
export function metricsApp(metrics: ServiceMetrics, keyring: Keyring, requireAdminKey: boolean, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(pinoHttp({ logger, autoLogging: false }));
  app.use(metricsRoutes(metrics, keyring, requireAdminKey));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
