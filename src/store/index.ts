import type { Store } from './contract';
import { Sealer } from './sealer';
import { openPostgresStore, type PostgresStoreOptions } from './postgres';
import { SqliteStore } from './sqlite';
import type { SealOutcome } from './sqlite/seal-existing';

export * from './contract';
export type { SealOutcome } from './sqlite/seal-existing';

export interface StoreOptions {
  /** Where the embedded SQLite database lives (and, with any backend, the server's other files). */
  dataDir: string;
  busyTimeoutMs: number;
  /** Empty: the embedded SQLite database in `dataDir`; `postgres://…` or `postgresql://…`: that PostgreSQL database. */
  databaseUrl?: string;
  /** The client (config `auth.defaultClient`) that rows stored before tenants existed go to; 'default' when not given. */
  defaultClient?: string;
  /** The PostgreSQL backend's pool (config `store.postgres`), needed with a postgres:// URL. */
  postgres?: Pick<PostgresStoreOptions, 'poolSize' | 'statementTimeoutMs' | 'connectTimeoutMs'>;
  /** Hears of PostgreSQL connections dropped while idle (the pool replaces them). */
  onIdleError?: (error: Error) => void;
}

/** Which backend a database URL names: none is the embedded default. */
export function backendOf(databaseUrl = ''): Store['backend'] {
  if (databaseUrl === '') return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return 'postgres';
  throw new Error('store.databaseUrl must be empty (SQLite in the data folder) or a postgres:// URL');
}

/**
 * Opens (and migrates) the store the options name; with a `sealer` that encrypts, images, templates
 * and scan files are encrypted at rest. The one place a backend is chosen.
 */
export async function openStore(options: StoreOptions, sealer: Sealer = Sealer.plain()): Promise<Store> {
  switch (backendOf(options.databaseUrl)) {
    case 'postgres':
      if (!options.postgres) throw new Error('a PostgreSQL database needs the pool settings of config store.postgres');
      return openPostgresStore({ url: options.databaseUrl!, sealer, ...options.postgres, onIdleError: options.onIdleError });
    case 'sqlite':
      return SqliteStore.open(options, sealer);
  }
}

/**
 * Seals in place every blob stored in clear or in the first sealed format with the store's sealer
 * (`npx facegate encrypt-existing`, server stopped). The embedded SQLite database only, for now.
 */
export function sealExisting(store: Store, progress: (done: number, total: number) => void): SealOutcome {
  if (!(store instanceof SqliteStore)) throw new Error(`encrypt-existing seals the embedded SQLite database only, not a ${store.backend} one`);
  return store.sealExisting(progress);
}
