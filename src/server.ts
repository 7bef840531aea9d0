import { statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './api/app';
import { listen } from './api/listen';
import { metricsApp, ServiceMetrics } from './api/metrics';
import { loadApiDocument } from './api/openapi';
import { loadConfig } from './config';
import { createKeyring } from './config/api-keys';
import { createLogger } from './log';
import { startAnalyzer } from './pipeline/analysis-pool';
import { startLine } from './start-line';
import { ffmpegVersion } from './pipeline/video';
import { createScanner } from './scan/scanner';
import { openStore } from './store';
import { startRetention } from './store/retention';
import { Sealer } from './store/sealer';

/** Starts FaceGate: config, database, models, then the HTTP listener. Any failure stops the process. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log.level);
  const started = Date.now();
  // The encryption key comes from the environment only; it is never written anywhere.
  const sealer = Sealer.fromEnvironment();
  if (!sealer.encrypts && config.store.requireEncryption) throw new Error('store.requireEncryption is set but FACEGATE_ENCRYPTION_KEY is not: faces would be stored in clear');
  const store = await openStore(
    {
      ...config.store,
      defaultClient: config.auth.defaultClient,
      onIdleError: (error) => logger.warn({ err: error }, 'a PostgreSQL connection was dropped while idle; the pool replaces it'),
    },
    sealer,
  );
  const folderMode = statSync(config.store.dataDir).mode & 0o777;
  if (folderMode & 0o077) logger.warn({ dataDir: config.store.dataDir, mode: folderMode.toString(8) }, 'the data folder is open to other users and belongs to another user: make it 0700');
  if (sealer.encrypts) logger.info('images and templates are encrypted at rest');
  else logger.warn('FACEGATE_ENCRYPTION_KEY is not set: face images and templates are stored in clear');
  const stopRetention = await startRetention(
    store,
    config.store,
    (erased) => logger.info(erased, 'erased unenrolled images and finished scans past their retention'),
    (error) => logger.error({ err: error }, 'retention sweep failed'),
  );
  const keyring = createKeyring(config.auth, config.store.dataDir);
  if (keyring.keyFile) logger.warn({ keyFile: keyring.keyFile }, 'no user API key configured: using the generated key in this file');
  if (!keyring.entries.some((entry) => entry.role === 'admin')) logger.warn('no admin key configured: admin-only routes refuse every request');
  const clients = new Set(keyring.entries.map((entry) => entry.clientId));
  logger.info({ clients: [...clients] }, `${clients.size} client${clients.size === 1 ? '' : 's'} configured`);
  const ffmpeg = await ffmpegVersion(config.video).catch((error: Error) => {
    throw new Error(`video.ffmpegPath: ${error.message}: install Debian's ffmpeg (apt-get install ffmpeg) or set video.ffmpegPath`);
  });
  logger.info({ ffmpeg }, 'videos are read with this ffmpeg');
  const api = loadApiDocument();
  const metrics = new ServiceMetrics();
  const loading = Date.now();
  const analyzer = await startAnalyzer(config.models);
  metrics.modelsLoaded(Date.now() - loading);
  logger.info({ models: analyzer.loaded, workers: config.models.workers, ms: Date.now() - started }, 'models loaded');

  const scanner = createScanner(config, store.scans, logger, metrics.scan);
  const resumed = await scanner.resume();
  if (resumed > 0) logger.info({ tasks: resumed }, 'resuming unfinished scans');
  const app = createApp({ config, analyzer, store, keyring, api, logger, scanner, metrics });
  const servers: Server[] = [];
  const cannotListen = (error: Error) => {
    logger.fatal({ err: error }, 'cannot listen');
    process.exit(1);
  };
  const { port: metricsPort, host: metricsHost, requireAdminKey } = config.metrics;
  if (metricsPort !== null) {
    const metricsServer = listen(metricsApp(metrics, keyring, requireAdminKey, logger), { ...config.server, host: metricsHost, port: metricsPort }, () => {
      logger.info({ address: metricsServer.address() }, 'metrics listening');
    });
    metricsServer.on('error', cannotListen);
    servers.push(metricsServer);
  }
  const server: Server = listen(app, config.server, () => {
    logger.info({ address: server.address() }, 'listening');
    console.log(startLine({ address: server.address() as AddressInfo, keyring, encrypted: sealer.encrypts, metrics: config.metrics }));
  });
  server.on('error', cannotListen);
  servers.push(server);

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.server.shutdownGraceMs).unref();
    // close() ends idle keep-alive connections only once; those busy now go idle when their answer
    // is sent and would otherwise hold the shutdown until their keep-alive timeout.
    const dropIdle = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 50);
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    void Promise.all(closed).then(() => {
      clearTimeout(force);
      clearInterval(dropIdle);
      stopRetention();
      void Promise.all([scanner.close(), analyzer.close()])
        .finally(() => store.close())
        .finally(() => process.exit(0));
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(`facegate: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
