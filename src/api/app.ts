import cors from 'cors';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { analysisOptions, type Config } from '../config';
import type { Keyring } from '../config/api-keys';
import type { Analyzer } from '../pipeline/analyze';
import type { Scanner } from '../scan/scanner';
import { createServices } from '../service';
import type { Store } from '../store';
import { admission } from './admission';
import { bodyReader } from './body';
import { scanRoutes } from './bqat';
import { enrollRoutes } from './enroll';
import { errorHandler, notFound } from './errors';
import { healthRoutes } from './health';
import { isoRoutes } from './iso';
import { metricsRoutes, ServiceMetrics } from './metrics';
import { nodefluxRoutes } from './nodeflux';
import { type ApiDocument, documentationRoutes } from './openapi';
import { qitechRoutes } from './qitech';
import { perKeyRateLimit } from './rate-limit';
import { securityHeaders } from './security-headers';
import { tryPageRoutes } from './try-page';

export interface AppDeps {
  config: Config;
  /** Runs the analyses of the gate routes: on this thread or on worker threads. */
  analyzer: Analyzer;
  store: Store;
  keyring: Keyring;
  api: ApiDocument;
  logger: Logger;
  scanner: Scanner;
  /** The service's metrics (server.ts feeds them from start-up on); a fresh set when absent. */
  metrics?: ServiceMetrics;
}

/**
 * A request's URL as the log keeps it: without the query string (usernames, keys a client put
 * there), and with the one identity a path carries, the username of /api/users/{username}, left out.
 */
export function loggedPath(url: string): string {
  return url.split('?', 1)[0].replace(/^\/api\/users\/[^/]+/i, '/api/users/:username');
}

/** Each API family parses its own bodies (its size limit) and answers errors in its own shape. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders(deps.config.server.https));
  const metrics = deps.metrics ?? new ServiceMetrics();
  app.use(metrics.requests);
  app.use(
    pinoHttp({
      logger: deps.logger,
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: loggedPath(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  // Browsers may call only from the configured origins; with none, no CORS header is ever sent.
  if (deps.config.server.corsOrigins.length > 0) app.use(cors({ origin: deps.config.server.corsOrigins }));
  const options = analysisOptions(deps.config);
  const limits = deps.config.limits;
  // One queue for every family: they share the same cores. A request joins it once its body is read.
  const turn = admission(
    { maxConcurrent: limits.maxConcurrentAnalyses, maxQueued: limits.maxQueuedAnalyses, maxWaitMs: limits.maxQueueWaitMs, presenceMs: limits.clientPresenceMs },
    metrics.admission,
  );
  metrics.watch(turn, deps.scanner);
  const analyzer = metrics.observing(deps.analyzer);
  const readBody = bodyReader({ timeoutMs: limits.bodyTimeoutMs, maxUploadsPerClient: limits.maxConcurrentUploadsPerClient });
  // One counter per key across the families; each family answers the 429 in its own shape.
  const perKey = perKeyRateLimit(limits.requestsPerKeyPerMinute, deps.keyring);
  const services = createServices({ ...deps, analyzer, options });
  app.use(healthRoutes(deps.analyzer, deps.config.models.load, deps.store));
  app.use(documentationRoutes(deps.api));
  app.use(tryPageRoutes(deps.config.server.https));
  // With metrics.port set, /metrics is served on that port only (server.ts).
  if (deps.config.metrics.port === null) app.use(metricsRoutes(metrics, deps.keyring, deps.config.metrics.requireAdminKey));
  app.use(nodefluxRoutes({ ...deps, analyzer, metrics, options, readBody, turn, perKey }));
  app.use(qitechRoutes({ ...deps, images: services.images, metrics, options, readBody, turn, perKey }));
  app.use(enrollRoutes({ ...deps, enrollment: services.enrollment, users: services.users, metrics, readBody, turn, perKey }));
  app.use(isoRoutes({ ...deps, analyzer, options, readBody, turn, perKey }));
  app.use(scanRoutes({ ...deps, scans: services.scans, perKey }));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
