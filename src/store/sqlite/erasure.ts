import type Database from 'better-sqlite3';

/**
 * Pushes erased rows out of the write-ahead log: with `secure_delete` on, SQLite zeroes deleted
 * content in the database file, but older copies of those pages stay in the WAL file until a
 * checkpoint writes them back and truncates it.
 */
export function flushErased(db: Database.Database): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}
