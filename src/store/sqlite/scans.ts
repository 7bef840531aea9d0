import type Database from 'better-sqlite3';
import { type ClaimedFile, type FileError, type ProfiledFile, type ScanStore, type ScanTask, scanFilePlace, type StoredProfile, type UploadedFile } from '../contract';
import { type TaskRow, taskOf } from '../rows';
import type { Sealer } from '../sealer';
import { flushErased } from './erasure';

/**
 * Batch-scan tasks and their files. An uploaded file's bytes (sealed at rest) stay until the file
 * is profiled or has failed, so a task interrupted by a restart can pick up where it was. A task
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
   * stopped process left incomplete (`eraseIncompleteIntakes`).
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

  /** Erases the tasks whose intake never completed, with the files stored so far; returns how many. */
  async eraseIncompleteIntakes(): Promise<number> {
    const erased = this.db.prepare(`DELETE FROM tasks WHERE status = 'pending' AND total = 0`).run().changes;
    if (erased > 0) flushErased(this.db);
    return erased;
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

  /** Tasks of every client still pending or left running by an earlier process, oldest first. */
  async unfinished(): Promise<ScanTask[]> {
    const rows = this.db.prepare(`SELECT * FROM tasks WHERE status IN ('pending', 'running') ORDER BY created_at, rowid`).all() as TaskRow[];
    return rows.map(taskOf);
  }

  async start(id: string, at: string): Promise<void> {
    this.db
      .prepare(`UPDATE tasks SET status = 'running', started_at = ?, started_processed = processed, updated_at = ? WHERE id = ?`)
      .run(at, at, id);
  }

  async finish(id: string, at: string): Promise<void> {
    this.db.prepare(`UPDATE tasks SET status = 'done', finished_at = ?, updated_at = ? WHERE id = ?`).run(at, at, id);
  }

  async fail(id: string, failure: string, at: string): Promise<void> {
    this.db.prepare(`UPDATE tasks SET status = 'failed', failure = ?, finished_at = ?, updated_at = ? WHERE id = ?`).run(failure, at, at, id);
  }

  async pendingPositions(taskId: string): Promise<number[]> {
    const rows = this.db.prepare(`SELECT position FROM scan_files WHERE task_id = ? AND status = 'pending' ORDER BY position`).all(taskId) as {
      position: number;
    }[];
    return rows.map((r) => r.position);
  }

  /** Reads a pending file for analysis and counts the attempt; undefined when it is gone or no longer pending. */
  async claim(taskId: string, position: number): Promise<ClaimedFile | undefined> {
    return this.db.transaction(() => {
      const row = this.db
        .prepare(`SELECT name, content, attempts FROM scan_files WHERE task_id = ? AND position = ? AND status = 'pending'`)
        .get(taskId, position) as { name: string; content: Buffer; attempts: number } | undefined;
      if (!row) return undefined;
      this.db.prepare('UPDATE scan_files SET attempts = attempts + 1 WHERE task_id = ? AND position = ?').run(taskId, position);
      return { position, name: row.name, bytes: this.sealer.open(row.content, scanFilePlace(taskId, position, 'content')), attempts: row.attempts + 1 };
    })();
  }

  async recordProfile(taskId: string, position: number, profile: StoredProfile, thumbnail: Buffer | null, at: string): Promise<void> {
    this.settle(taskId, position, at, `status = 'done', profile = ?, thumbnail = ?`, JSON.stringify(profile), thumbnail && this.sealer.seal(thumbnail, scanFilePlace(taskId, position, 'thumbnail')));
  }

  async recordFailure(taskId: string, position: number, error: string, at: string): Promise<void> {
    this.settle(taskId, position, at, `status = 'failed', error = ?`, error);
  }

  private settle(taskId: string, position: number, at: string, assignments: string, ...values: unknown[]): void {
    this.db.transaction(() => {
      const changed = this.db
        .prepare(`UPDATE scan_files SET ${assignments}, content = NULL WHERE task_id = ? AND position = ? AND status = 'pending'`)
        .run(...values, taskId, position).changes;
      if (changed > 0) this.db.prepare('UPDATE tasks SET processed = processed + 1, updated_at = ? WHERE id = ?').run(at, taskId);
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
