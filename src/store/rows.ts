/** Row shapes and encodings the SQLite and PostgreSQL backends share, so that both answer alike. */
import type { ScanTask, TaskStatus } from './contract';

/** An embedding as stored: its float32 values' bytes (sealed on top of that). */
export const toBlob = (embedding: Float32Array): Buffer => Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
/** The embedding of a stored blob, in a copy that owns its memory. */
export const fromBlob = (blob: Buffer): Float32Array => {
  const copy = Buffer.from(blob);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
};

/** A tasks row as both backends select it. */
export interface TaskRow {
  id: string;
  client: string;
  collection: string;
  status: TaskStatus;
  total: number;
  processed: number;
  failure: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  started_processed: number;
  finished_at: string | null;
}

export const taskOf = (row: TaskRow): ScanTask => ({
  id: row.id,
  client: row.client,
  collection: row.collection,
  status: row.status,
  total: row.total,
  processed: row.processed,
  failure: row.failure,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  startedAt: row.started_at,
  startedProcessed: row.started_processed,
  finishedAt: row.finished_at,
});
