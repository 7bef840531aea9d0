import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Config } from '../config';
import type { ModelRegistry } from '../models/registry';
import type { Store } from '../store';
import { errorHandler, notFound } from './errors';
import { healthRoutes } from './health';

export interface AppDeps {
  config: Config;
  models: ModelRegistry;
  store: Store;
  logger: Logger;
}

/** Room for JSON syntax and other fields around one base64 image. */
const JSON_OVERHEAD_BYTES = 64 * 1024;

/** The JSON body limit that fits one image of `maxImageBytes` encoded in base64. */
export function jsonBodyLimit(maxImageBytes: number): number {
  return Math.ceil(maxImageBytes / 3) * 4 + JSON_OVERHEAD_BYTES;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(helmet());
  app.use(
    pinoHttp({
      logger: deps.logger,
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  app.use(express.json({ limit: jsonBodyLimit(deps.config.limits.maxImageBytes) }));
  app.use(healthRoutes(deps.models, deps.config.models.load, deps.store));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
