import { Pool } from 'pg';
import type { ResetScope, Store } from '../contract';
import type { Sealer } from '../sealer';
import { Database } from './database';
import { PostgresImages } from './images';
import { migrate, storedSchemaVersion } from './schema';
import { PostgresScans } from './scans';
import { PostgresUsers, recordTemplateChange } from './users';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (libpq's URL form; ?sslmode=... is understood). */
  url: string;
  /** Seals images, templates and scan files at rest when it has a key, as on SQLite. */
  sealer: Sealer;
  /** Connections this replica keeps open at most (config `store.postgres.poolSize`). */
  poolSize: number;
  /**
   * A statement running longer is cancelled, and its request fails; a transaction idle that long is
   * ended by the server (config `store.postgres.statementTimeoutMs`).
   */
  statementTimeoutMs: number;
  /** Waiting longer for a connection (a new one, or a free one of a busy pool) fails (config `store.postgres.connectTimeoutMs`). */
  connectTimeoutMs: number;
  /** Hears of errors of idle connections (the server restarted, the network dropped); the pool replaces them. */
  onIdleError?: (error: Error) => void;
}

/** The database named by a URL for messages and logs: host, port and database, never the password. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'a database whose URL does not parse';
  }
}

/** Tables that hold a client's data, parents first: deleting users and tasks cascades to templates and scan files. */
const CLIENT_TABLES = ['users', 'images', 'tasks'];
const ALL_TABLES = ['users', 'images', 'templates', 'tasks', 'scan_files', 'template_changes'];

/**
 * The store on a PostgreSQL database that several replicas share: the same tables, answers and
 * guarantees as the SQLite backend (tenants, sealing at rest, enrollment conflicts, scan claims,
 * retention), migrated on open.
 */
export class PostgresStore implements Store {
  readonly backend = 'postgres';
  private readonly closing = new AbortController();
  readonly lifetime = this.closing.signal;
  readonly images: PostgresImages;
  readonly users: PostgresUsers;
  readonly scans: PostgresScans;

  private constructor(private readonly db: Database, sealer: Sealer) {
    this.images = new PostgresImages(db, sealer);
    this.users = new PostgresUsers(db, sealer, this.images);
    this.scans = new PostgresScans(db, sealer);
  }

  /** Connects, migrates (or refuses a newer schema) and answers once the database is ready. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new Pool({
      connectionString: options.url,
      max: options.poolSize,
      statement_timeout: options.statementTimeoutMs,
      // A transaction left idle that long (its replica hung inside enroll's duplicate check) is ended
      // by the server, which releases the client's enrollment lock for the other replicas.
      idle_in_transaction_session_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'facegate',
    });
    pool.on('error', (error) => options.onIdleError?.(error));
    const store = new PostgresStore(new Database(pool), options.sealer);
    try {
      await migrate(store.db);
    } catch (error) {
      await pool.end();
      throw new Error(`cannot open the PostgreSQL store at ${describeDatabase(options.url)}: ${(error as Error).message}`, { cause: error });
    }
    return store;
  }

  schemaVersion(): Promise<number> {
    return storedSchemaVersion(this.db);
  }

  /**
   * Erases the scope's users, templates, images and scans in one transaction, with the template
   * changes that name its users (one change saying the scope was erased stays), then VACUUMs every
   * table they were in: their dead rows go, and no query, replica or index reaches them again
   * (their bytes can stay in free space and in the WAL: see docs/reliability.md, Erasure on PostgreSQL).
   */
  async reset(scope: ResetScope): Promise<void> {
    await this.db.transaction(async () => {
      for (const table of [...CLIENT_TABLES, 'template_changes']) {
        if ('client' in scope) await this.db.run(`DELETE FROM ${table} WHERE client = $1`, [scope.client]);
        else await this.db.run(`DELETE FROM ${table}`);
      }
      await recordTemplateChange(this.db, 'client' in scope ? scope.client : null, null);
    });
    await this.db.vacuum(ALL_TABLES);
  }

  /** True when the database accepts a write now: a transaction that changes a row, rolled back. */
  isWritable(): Promise<boolean> {
    const probe = this.db.transaction(async () => {
      await this.db.run('UPDATE schema_version SET version = version');
      throw new RolledBack();
    });
    return probe.then(
      () => false,
      (error: unknown) => error instanceof RolledBack,
    );
  }

  async close(): Promise<void> {
    this.closing.abort();
    if (!this.db.pool.ended) await this.db.pool.end();
  }
}

/** Ends isWritable's probe: its write is undone once it succeeded. */
class RolledBack extends Error {}

/** What the store factory calls for a postgres:// URL. */
export function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  return PostgresStore.open(options);
}
