import type { Express } from 'express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type AppDeps, createApp } from '../../src/api/app';
import { loadApiDocument } from '../../src/api/openapi';
import { type Config, loadConfig } from '../../src/config';
import { createKeyring } from '../../src/config/api-keys';
import { loadModels, type ModelRegistry } from '../../src/models/registry';
import { inProcess } from '../../src/pipeline/analysis-pool';
import { createScanner } from '../../src/scan/scanner';
import { openStore, type Store } from '../../src/store';

export const USER_KEY = 'user-key-for-tests-0123456789';
export const ADMIN_KEY = 'admin-key-for-tests-0123456789';
/** Keys of a second client app, `other`, beside the default client's USER_KEY (ADMIN_KEY acts on both). */
export const OTHER_CLIENT_KEY = 'other-client-key-for-tests-0123';
export const OTHER_CLIENT_ADMIN_KEY = 'other-client-admin-key-for-tests';

export interface TestApp {
  config: Config;
  store: Store;
  models: ModelRegistry;
  app: Express;
  /** What the app was built from, to build variants of it. */
  deps: AppDeps;
}

/**
 * The real app on the real models, with a fresh store (SQLite in a temporary folder, as configured) and the test
 * keys of two clients; `adjust` may change the configuration first. Models load once per test file.
 */
export function useApp(adjust: (config: Config) => void = () => undefined): () => TestApp {
  let built: TestApp | undefined;
  beforeAll(async () => {
    const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-test-')), FACEGATE_API_KEYS: USER_KEY, FACEGATE_ADMIN_KEYS: ADMIN_KEY });
    config.auth.clients = { other: { apiKeys: [OTHER_CLIENT_KEY], adminKeys: [OTHER_CLIENT_ADMIN_KEY] } };
    adjust(config);
    const models = await loadModels(config.models);
    const store = await openStore(config.store);
    const keyring = createKeyring(config.auth, config.store.dataDir);
    const logger = pino({ level: 'silent' });
    const deps = { config, analyzer: inProcess(models), store, keyring, api: loadApiDocument(), logger, scanner: createScanner(config, store.scans, logger) };
    built = { config, store, models, app: createApp(deps), deps };
  });
  afterAll(async () => {
    await built?.deps.scanner.close();
    await built?.store.close();
    await built?.models.release();
  });
  return () => {
    if (!built) throw new Error('the app is built in beforeAll');
    return built;
  };
}
