import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ImageRepository } from './images';
import { MIGRATIONS } from './migrations';
import { ScanRepository } from './scans';
import { Sealer } from './sealer';
import { UserRepository } from './users';

export interface StoreOptions {
  dataDir: string;
  busyTimeoutMs: number;
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

/** The SQLite database in the data folder: WAL journal, foreign keys on, migrated on open. */
export class Store {
  readonly db: Database.Database;
  readonly images: ImageRepository;
  readonly users: UserRepository;
  readonly scans: ScanRepository;

  private constructor(db: Database.Database, sealer: Sealer) {
    this.db = db;
    this.images = new ImageRepository(db, sealer);
    this.users = new UserRepository(db, sealer, this.images);
    this.scans = new ScanRepository(db, sealer);
  }

  /** Opens (and migrates) the database; with a `sealer` that encrypts, images and templates are encrypted at rest. */
  static open(options: StoreOptions, sealer: Sealer = Sealer.plain()): Store {
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
    const store = new Store(db, sealer);
    store.migrate();
    return store;
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const from = this.schemaVersion;
    if (from > MIGRATIONS.length) {
      throw new Error(`database schema version ${from} is newer than this build knows (${MIGRATIONS.length})`);
    }
    MIGRATIONS.slice(from).forEach((sql, i) => {
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${from + i + 1}`);
      })();
    });
  }

  /** True when the database accepts a write right now (checked by writing its header and rolling back). */
  isWritable(): boolean {
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        this.db.pragma(`user_version = ${this.schemaVersion}`);
      } finally {
        this.db.exec('ROLLBACK');
      }
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
