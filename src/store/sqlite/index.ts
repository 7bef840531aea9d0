import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { ResetScope, Store } from '../contract';
import { Sealer } from '../sealer';
import { flushErased } from './erasure';
import { SqliteImages } from './images';
import { MIGRATIONS } from './migrations';
import { SqliteScans } from './scans';
import { type SealOutcome, sealExisting } from './seal-existing';
import { recordTemplateChange, SqliteUsers } from './users';

export interface SqliteOptions {
  dataDir: string;
  busyTimeoutMs: number;
  /** The client (config `auth.defaultClient`) that rows stored before tenants existed go to; 'default' when not given. */
  defaultClient?: string;
}

export const DATABASE_FILE = 'facegate.db';

/**
 * The data folder readable by this user only (0700, an existing one too, when it is ours to change:
 * a volume another user owns, such as Kubernetes' fsGroup mounts, is left as it is and the server
 * warns), and the database created 0600 before SQLite opens it: SQLite gives its -wal and -shm files
 * the database's mode.
 */
function privateDatabasePath(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(dataDir, 0o700);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
  const path = join(dataDir, DATABASE_FILE);
  closeSync(openSync(path, 'a', 0o600));
  return path;
}

/**
 * The embedded backend: the SQLite database in the data folder (WAL journal, foreign keys on,
 * migrated on open), read and written synchronously by better-sqlite3 behind the async contract.
 */
export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  private readonly closing = new AbortController();
  readonly lifetime = this.closing.signal;
  readonly db: Database.Database;
  readonly images: SqliteImages;
  readonly users: SqliteUsers;
  readonly scans: SqliteScans;

  private constructor(
    db: Database.Database,
    private readonly sealer: Sealer,
  ) {
    this.db = db;
    this.images = new SqliteImages(db, sealer);
    this.users = new SqliteUsers(db, sealer, this.images);
    this.scans = new SqliteScans(db, sealer);
  }

  /** Opens (and migrates) the database; with a `sealer` that encrypts, images and templates are encrypted at rest. */
  static open(options: SqliteOptions, sealer: Sealer = Sealer.plain()): SqliteStore {
    const path = privateDatabasePath(options.dataDir);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    // Files left by an earlier version may have been created readable by others.
    for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
    db.pragma('foreign_keys = ON');
    // Deleted biometric data is overwritten with zeros, not left in free pages.
    db.pragma('secure_delete = ON');
    db.pragma('synchronous = NORMAL');
    const store = new SqliteStore(db, sealer);
    store.migrate(options.defaultClient ?? 'default');
    return store;
  }

  async schemaVersion(): Promise<number> {
    return this.userVersion();
  }

  private userVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(defaultClient: string): void {
    const from = this.userVersion();
    if (from > MIGRATIONS.length) {
      throw new Error(`database schema version ${from} is newer than this build knows (${MIGRATIONS.length})`);
    }
    if (from === MIGRATIONS.length) return;
    // Off outside the transactions (SQLite ignores the pragma inside one): dropping a rebuilt
    // table would otherwise cascade into the rows that reference it.
    this.db.pragma('foreign_keys = OFF');
    try {
      MIGRATIONS.slice(from).forEach((migration, i) => {
        this.db.transaction(() => {
          if (typeof migration === 'string') this.db.exec(migration);
          else migration(this.db, defaultClient);
          const broken = this.db.pragma('foreign_key_check') as unknown[];
          if (broken.length > 0) throw new Error(`migration ${from + i + 1} left ${broken.length} rows with a broken reference`);
          this.db.pragma(`user_version = ${from + i + 1}`);
        })();
      });
    } finally {
      this.db.pragma('foreign_keys = ON');
    }
  }

  /**
   * Erases the scope's users, templates, images and scans (files, profiles and thumbnails) in one
   * transaction, with the template changes that name its users (one change saying the scope was
   * erased stays), then gives the space back to the file system.
   */
  async reset(scope: ResetScope): Promise<void> {
    const tables = ['users', 'images', 'tasks', 'template_changes'];
    this.db.transaction(() => {
      // Deleting users and tasks cascades to their templates and scan files.
      for (const table of tables) {
        if ('client' in scope) this.db.prepare(`DELETE FROM ${table} WHERE client = ?`).run(scope.client);
        else this.db.prepare(`DELETE FROM ${table}`).run();
      }
      recordTemplateChange(this.db, 'client' in scope ? scope.client : null, null);
    })();
    this.db.exec('VACUUM');
    flushErased(this.db);
  }

  /** True when the database accepts a write right now (checked by writing its header and rolling back). */
  async isWritable(): Promise<boolean> {
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        this.db.pragma(`user_version = ${this.userVersion()}`);
      } finally {
        this.db.exec('ROLLBACK');
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Seals in place every blob stored in clear or in the first sealed format with this store's
   * sealer (`npx facegate encrypt-existing`, server stopped); see sealExisting.
   */
  sealExisting(progress: (done: number, total: number) => void): SealOutcome {
    return sealExisting(this.db, this.sealer, progress);
  }

  async close(): Promise<void> {
    this.closing.abort();
    if (this.db.open) this.db.close();
  }
}
