import type Database from 'better-sqlite3';
import {
  type FileError,
  type LeasedFile,
  type ProfiledFile,
  type ScanLease,
  type ScanStore,
  type ScanTask,
  scanFilePlace,
  type Settled,
  type StoredProfile,
  type UploadedFile,
} from '../contract';
import { type TaskRow, taskOf } from '../rows';
import type { Sealer } from '../sealer';
import { flushErased } from './erasure';

/**
 * Batch-scan tasks and their files, and the queue the process's scanner takes them from. An
 * uploaded file's bytes (sealed at rest) stay until the file is profiled or has failed, so a task
 * interrupted by a restart can pick up where it was. A task
 * belongs to a client: finding one by id or collection names the client, and a task of another
 * client is not found; the per-task methods below take the id of a task found that way.
 */
export class SqliteScans implements ScanStore {
  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
  ) {}

  /**
   * Stores a new pending task whose files follow in `addFiles`. Its total stays 0 until
   * `completeIntake`: a real task has at least one file, so a total of 0 marks an intake that a
   * stopped process left incomplete (`reclaimAbandoned`).
   */
  async beginIntake(task: { id: string; client: string; collection: string; createdAt: string }): Promise<void> {
    this.db
      .prepare(`INSERT INTO tasks (id, client, collection, status, total, created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)`)
      .run(task.id, task.client, task.collection, task.createdAt, task.createdAt);
  }

  /** Stores files of a task in intake at positions from `firstPosition` on, in one transaction. */
  async addFiles(taskId: string, firstPosition: number, files: UploadedFile[]): Promise<void> {
    const insertFile = this.db.prepare('INSERT INTO scan_files (task_id, position, name, content) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      files.forEach((file, i) => insertFile.run(taskId, firstPosition + i, file.name, this.sealer.seal(file.bytes, scanFilePlace(taskId, firstPosition + i, 'content'))));
    })();
  }

  /** Ends the intake: the task holds `total` files and can be scanned. */
  async completeIntake(taskId: string, total: number): Promise<void> {
    this.db.prepare('UPDATE tasks SET total = ? WHERE id = ?').run(total, taskId);
  }

  /** One process owns the database file: whatever an earlier one left unfinished is taken back. */
  async reclaimAbandoned(): Promise<number> {
    const erased = this.db.transaction(() => {
      this.db.prepare(`UPDATE scan_files SET lease_until = NULL, lease_holder = NULL WHERE lease_holder IS NOT NULL`).run();
      this.db.prepare(`UPDATE tasks SET status = 'pending' WHERE status = 'running'`).run();
      return this.db.prepare(`DELETE FROM tasks WHERE status = 'pending' AND total = 0`).run().changes;
    })();
    if (erased > 0) flushErased(this.db);
    return (await this.unfinished()).length;
  }

  async task(client: string, id: string): Promise<ScanTask | undefined> {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ? AND client = ?').get(id, client) as TaskRow | undefined;
    return row && taskOf(row);
  }

  /** The task that scanned `collection` (one task per uploaded collection). */
  async taskOfCollection(client: string, collection: string): Promise<ScanTask | undefined> {
    const row = this.db.prepare('SELECT * FROM tasks WHERE client = ? AND collection = ? ORDER BY created_at DESC LIMIT 1').get(client, collection) as
      | TaskRow
      | undefined;
    return row && taskOf(row);
  }

  async unfinished(): Promise<ScanTask[]> {
    const rows = this.db.prepare(`SELECT * FROM tasks WHERE status IN ('pending', 'running') ORDER BY created_at, rowid`).all() as TaskRow[];
    return rows.map(taskOf);
  }

  async fail(id: string, failure: string, at: string): Promise<boolean> {
    const sql = `UPDATE tasks SET status = 'failed', failure = ?, finished_at = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'running')`;
    return this.db.prepare(sql).run(failure, at, at, id).changes > 0;
  }

  async claimNext(lease: ScanLease, at: string): Promise<LeasedFile | undefined> {
    const until = new Date(Date.parse(at) + lease.seconds * 1000).toISOString();
    return this.db.transaction(() => {
      const row = this.db
        .prepare(
          `SELECT f.task_id, t.client, f.position, f.name, f.content, f.attempts FROM scan_files f JOIN tasks t ON t.id = f.task_id
           WHERE t.status IN ('pending', 'running') AND t.total > 0 AND f.status = 'pending' AND (f.lease_until IS NULL OR f.lease_until < ?)
           ORDER BY t.created_at, t.rowid, f.position LIMIT 1`,
        )
        .get(at) as { task_id: string; client: string; position: number; name: string; content: Buffer; attempts: number } | undefined;
      if (!row) return undefined;
      const { task_id: taskId, position } = row;
      this.db
        .prepare('UPDATE scan_files SET attempts = attempts + 1, lease_until = ?, lease_holder = ? WHERE task_id = ? AND position = ?')
        .run(until, lease.holder, taskId, position);
      this.db
        .prepare(`UPDATE tasks SET status = 'running', started_at = ?, started_processed = processed, updated_at = ? WHERE id = ? AND status = 'pending'`)
        .run(at, at, taskId);
      const bytes = this.sealer.open(row.content, scanFilePlace(taskId, position, 'content'));
      return { taskId, client: row.client, position, name: row.name, bytes, attempts: row.attempts + 1 };
    })();
  }

  async releaseLeases(holder: string): Promise<void> {
    this.db.prepare(`UPDATE scan_files SET lease_until = NULL, lease_holder = NULL WHERE lease_holder = ? AND status = 'pending'`).run(holder);
  }

  async recordProfile(taskId: string, position: number, profile: StoredProfile, thumbnail: Buffer | null, at: string): Promise<Settled> {
    const sealedThumbnail = thumbnail && this.sealer.seal(thumbnail, scanFilePlace(taskId, position, 'thumbnail'));
    return this.settle(taskId, position, at, `status = 'done', profile = ?, thumbnail = ?`, JSON.stringify(profile), sealedThumbnail);
  }

  async recordFailure(taskId: string, position: number, error: string, at: string): Promise<Settled> {
    return this.settle(taskId, position, at, `status = 'failed', error = ?`, error);
  }

  /** Settles a pending file and counts it in its task, which is done once every file is. */
  private settle(taskId: string, position: number, at: string, assignments: string, ...values: unknown[]): Settled {
    return this.db.transaction((): Settled => {
      const changed = this.db
        .prepare(`UPDATE scan_files SET ${assignments}, content = NULL, lease_until = NULL, lease_holder = NULL WHERE task_id = ? AND position = ? AND status = 'pending'`)
        .run(...values, taskId, position).changes;
      if (changed === 0) return 'stale';
      const { status } = this.db
        .prepare(
          `UPDATE tasks SET processed = processed + 1, updated_at = ?,
             status = CASE WHEN status IN ('pending', 'running') AND processed + 1 >= total THEN 'done' ELSE status END,
             finished_at = CASE WHEN status IN ('pending', 'running') AND processed + 1 >= total THEN ? ELSE finished_at END
           WHERE id = ? RETURNING status`,
        )
        .get(at, at, taskId) as { status: string };
      return status === 'done' ? 'finished' : 'counted';
    })();
  }

  async errors(taskId: string): Promise<FileError[]> {
    return this.db
      .prepare(`SELECT name AS file, error FROM scan_files WHERE task_id = ? AND status = 'failed' ORDER BY position`)
      .all(taskId) as FileError[];
  }

  async profileCount(taskId: string): Promise<number> {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM scan_files WHERE task_id = ? AND status = 'done'`).get(taskId) as { n: number }).n;
  }

  /** Profiled files in upload order, `limit` of them after the first `skip`. */
  async profiles(taskId: string, skip = 0, limit = -1): Promise<ProfiledFile[]> {
    const rows = this.db
      .prepare(`SELECT position, name, profile FROM scan_files WHERE task_id = ? AND status = 'done' ORDER BY position LIMIT ? OFFSET ?`)
      .all(taskId, limit, skip) as { position: number; name: string; profile: string }[];
    return rows.map((r) => ({ position: r.position, name: r.name, profile: JSON.parse(r.profile) as StoredProfile }));
  }

  async thumbnail(taskId: string, position: number): Promise<Buffer | undefined> {
    const row = this.db.prepare('SELECT thumbnail FROM scan_files WHERE task_id = ? AND position = ?').get(taskId, position) as
      | { thumbnail: Buffer | null }
      | undefined;
    return row?.thumbnail ? this.sealer.open(row.thumbnail, scanFilePlace(taskId, position, 'thumbnail')) : undefined;
  }

  /** Erases the scans that finished (done or failed) before `cutoff`, with their files, profiles and thumbnails; returns how many. */
  async eraseFinishedBefore(cutoff: Date): Promise<number> {
    const erased = this.db.prepare(`DELETE FROM tasks WHERE status IN ('done', 'failed') AND finished_at < ?`).run(cutoff.toISOString()).changes;
    if (erased > 0) flushErased(this.db);
    return erased;
  }

  /** Deletes the client's collection: its tasks with their files and results; false when there was none. */
  async deleteCollection(client: string, collection: string): Promise<boolean> {
    const deleted = this.db.prepare('DELETE FROM tasks WHERE client = ? AND collection = ?').run(client, collection).changes > 0;
    if (deleted) flushErased(this.db);
    return deleted;
  }
}
