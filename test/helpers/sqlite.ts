import type Database from 'better-sqlite3';
import type { Store } from '../../src/store';
import { SqliteStore } from '../../src/store/sqlite';

/** The SQLite connection behind `store`, for tests that look at rows and files directly; fails on another backend. */
export function sqliteDb(store: Store): Database.Database {
  if (!(store instanceof SqliteStore)) throw new Error(`this test reads the SQLite database directly, and the store is ${store.backend}`);
  return store.db;
}
