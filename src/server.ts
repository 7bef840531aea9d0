import type { Server } from 'node:http';
import { createApp } from './api/app';
import { listen } from './api/listen';
import { loadApiDocument } from './api/openapi';
import { loadConfig } from './config';
import { createKeyring } from './config/api-keys';
import { createLogger } from './log';
import { startAnalyzer } from './pipeline/analysis-pool';
import { createScanner } from './scan/scanner';
import { Store } from './store';
import { startImageRetention } from './store/retention';
import { Sealer } from './store/sealer';

/** Starts FaceGate: config, database, models, then the HTTP listener. Any failure stops the process. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log.level);
  const started = Date.now();
  // The encryption key comes from the environment only; it is never written anywhere.
  const sealer = Sealer.fromEnvironment();
  const store = Store.open(config.store, sealer);
  if (sealer.encrypts) logger.info('images and templates are encrypted at rest');
  const stopRetention = startImageRetention(store.images, config.store.unenrolledImageHours, (count) =>
    logger.info({ count }, 'erased images never used for an enrollment'),
  );
  const keyring = createKeyring(config.auth, config.store.dataDir);
  if (keyring.keyFile) logger.warn({ keyFile: keyring.keyFile }, 'no API key configured: using the generated key in this file');
  if (!keyring.entries.some((entry) => entry.role === 'admin')) logger.warn('no admin key configured: admin-only routes refuse every request');
  const clients = new Set(keyring.entries.map((entry) => entry.clientId));
  logger.info({ clients: [...clients] }, `${clients.size} client${clients.size === 1 ? '' : 's'} configured`);
  const api = loadApiDocument();
  const analyzer = await startAnalyzer(config.models);
  logger.info({ models: analyzer.loaded, workers: config.models.workers, ms: Date.now() - started }, 'models loaded');

  const scanner = createScanner(config, store.scans, logger);
  const resumed = scanner.resume();
  if (resumed > 0) logger.info({ tasks: resumed }, 'resuming unfinished scans');
  const app = createApp({ config, analyzer, store, keyring, api, logger, scanner });
  const server: Server = listen(app, config.server, () => {
    logger.info({ address: server.address() }, 'listening');
  });
  server.on('error', (error) => {
    logger.fatal({ err: error }, 'cannot listen');
    process.exit(1);
  });

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.server.shutdownGraceMs).unref();
    // close() ends idle keep-alive connections only once; those busy now go idle when their answer
    // is sent and would otherwise hold the shutdown until their keep-alive timeout.
    const dropIdle = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearTimeout(force);
      clearInterval(dropIdle);
      stopRetention();
      void Promise.all([scanner.close(), analyzer.close()]).finally(() => {
        store.close();
        process.exit(0);
      });
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(`facegate: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
