import type Database from 'better-sqlite3';
import { imagePlace, scanFilePlace, templatePlace } from '../contract';
import type { BlobPlace, Sealer } from '../sealer';
import { flushErased } from './erasure';

type Row = Record<string, string | number>;

/** Every sealed column: its table, the row columns its place is made of, and that place. */
const SEALED_COLUMNS: { table: string; column: string; rowColumns: string; place: (row: Row) => BlobPlace }[] = [
  { table: 'images', column: 'original', rowColumns: 'key', place: (r) => imagePlace(String(r.key), 'original') },
  { table: 'images', column: 'cropped', rowColumns: 'key', place: (r) => imagePlace(String(r.key), 'cropped') },
  { table: 'templates', column: 'embedding', rowColumns: 'id', place: (r) => templatePlace(Number(r.id)) },
  { table: 'scan_files', column: 'content', rowColumns: 'task_id, position', place: (r) => scanFilePlace(String(r.task_id), Number(r.position), 'content') },
  { table: 'scan_files', column: 'thumbnail', rowColumns: 'task_id, position', place: (r) => scanFilePlace(String(r.task_id), Number(r.position), 'thumbnail') },
];

/** Rows read and rewritten per transaction: bounded memory, and a stop loses at most one batch of work, never data. */
const BATCH_ROWS = 64;

export interface SealOutcome {
  /** Blobs sealed now: stored in clear or in the first sealed format before. */
  sealed: number;
  /** Blobs already sealed in the current format with this key, left as they were. */
  unchanged: number;
}

/**
 * Seals in place every blob stored in clear or in the first sealed format (`npx facegate
 * encrypt-existing`), a batch of rows per transaction; running it again changes nothing. A blob
 * sealed under another key stops it with the blob's place, before anything of that batch is written.
 * Afterwards no copy in clear is left in the database files.
 */
export function sealExisting(db: Database.Database, sealer: Sealer, progress: (done: number, total: number) => void): SealOutcome {
  const total = SEALED_COLUMNS.reduce(
    (sum, { table, column }) => sum + (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} IS NOT NULL`).get() as { n: number }).n,
    0,
  );
  const outcome: SealOutcome = { sealed: 0, unchanged: 0 };
  progress(0, total);
  for (const { table, column, rowColumns, place } of SEALED_COLUMNS) {
    const read = db.prepare(`SELECT rowid AS position_in_table, ${rowColumns}, ${column} AS blob FROM ${table} WHERE rowid > ? AND ${column} IS NOT NULL ORDER BY rowid LIMIT ${BATCH_ROWS}`);
    const write = db.prepare(`UPDATE ${table} SET ${column} = ? WHERE rowid = ?`);
    // Each batch is read and rewritten in one transaction, so a write between the two cannot be undone.
    const batch = db.transaction((after: number): number | undefined => {
      const rows = read.all(after) as (Row & { position_in_table: number; blob: Buffer })[];
      for (const row of rows) {
        const sealed = sealer.reseal(row.blob, place(row));
        if (sealed) write.run(sealed, row.position_in_table);
        outcome[sealed ? 'sealed' : 'unchanged']++;
      }
      return rows.at(-1)?.position_in_table;
    });
    for (let after = batch(0); after !== undefined; after = batch(after)) progress(outcome.sealed + outcome.unchanged, total);
  }
  flushErased(db);
  return outcome;
}
