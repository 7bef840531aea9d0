import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { backendOf, openStore } from '../../src/store';

describe('openStore', () => {
  const dataDir = () => mkdtempSync(join(tmpdir(), 'facegate-open-'));

  it('opens the embedded SQLite database when no database URL is configured (the default)', async () => {
    const config = loadConfig({ FACEGATE_DATA_DIR: dataDir() });
    expect(config.store.databaseUrl).toBe('');
    const store = await openStore(config.store);
    expect(store.backend).toBe('sqlite');
    expect(await store.isWritable()).toBe(true);
    await store.close();
  });

  it('reads a postgres URL as the PostgreSQL backend, and a server it cannot reach stops the start naming the server, never the password', async () => {
    const config = loadConfig({ FACEGATE_DATA_DIR: dataDir(), FACEGATE_DATABASE_URL: 'postgres://facegate:secret-password@127.0.0.1:1/facegate' });
    expect(backendOf(config.store.databaseUrl)).toBe('postgres');
    expect(backendOf('postgresql://db/facegate')).toBe('postgres');
    const opening = openStore(config.store);
    await expect(opening).rejects.toThrow('cannot open the PostgreSQL store at 127.0.0.1:1/facegate');
    await expect(opening).rejects.not.toThrow('secret-password');
  });

  it('refuses another kind of URL in the configuration, naming the key and its variable', () => {
    expect(() => loadConfig({ FACEGATE_DATABASE_URL: 'mysql://db/facegate' })).toThrow('invalid configuration: /store/databaseUrl (from FACEGATE_DATABASE_URL) must match pattern');
    expect(() => backendOf('sqlite:///tmp/x.db')).toThrow('store.databaseUrl must be empty (SQLite in the data folder) or a postgres:// URL');
  });
});
