import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../src/store';
import { describeStoreContract } from './contract';

/** Each store's data folder, so that another store can be opened on the same database. */
const folders = new WeakMap<Store, string>();

describeStoreContract('sqlite', async ({ sealer, sameDatabaseAs } = {}) => {
  const dataDir = sameDatabaseAs ? folders.get(sameDatabaseAs) : mkdtempSync(join(tmpdir(), 'facegate-contract-'));
  if (!dataDir) throw new Error('sameDatabaseAs names a store this test did not open');
  const store = await openStore({ dataDir, busyTimeoutMs: 1000 }, sealer);
  folders.set(store, dataDir);
  return store;
});
