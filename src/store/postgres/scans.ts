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
import type { Database } from './database';

/** The tables an erased scan leaves dead rows in. */
const SCAN_TABLES = ['tasks', 'scan_files'];

/** An intake incomplete for this long was abandoned by a replica that stopped: uploads are cut off long before. */
const ABANDONED_INTAKE_MS = 60 * 60 * 1000;

const TASK_COLUMNS = 'id, client, collection, status, total, processed, failure, created_at, updated_at, started_at, started_processed, finished_at';

/**
 * Batch-scan tasks and their files in PostgreSQL, as the SQLite backend keeps them, and the queue
 * every replica's scanner takes files from: claiming (`FOR UPDATE SKIP LOCKED`) and settling a file
 * are single statements, so replicas never hold one file at once nor count one twice, and the
 * replica that settles a task's last file finishes the task.
 */
export class PostgresScans implements ScanStore {
  constructor(
    private readonly db: Database,
    private readonly sealer: Sealer,
  ) {}

  async beginIntake(task: { id: string; client: string; collection: string; createdAt: string }): Promise<void> {
    await this.db.run(`INSERT INTO tasks (id, client, collection, status, total, created_at, updated_at) VALUES ($1, $2, $3, 'pending', 0, $4, $4)`, [
      task.id,
      task.client,
      task.collection,
      task.createdAt,
    ]);
  }

  async addFiles(taskId: string, firstPosition: number, files: UploadedFile[]): Promise<void> {
    const positions = files.map((_, i) => firstPosition + i);
    // One statement for the whole batch: all of it is stored, or none.
    await this.db.run('INSERT INTO scan_files (task_id, position, name, content) SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::bytea[])', [
      taskId,
      positions,
      files.map((file) => file.name),
      files.map((file, i) => this.sealer.seal(file.bytes, scanFilePlace(taskId, positions[i], 'content'))),
    ]);
  }

  async completeIntake(taskId: string, total: number): Promise<void> {
    await this.db.run('UPDATE tasks SET total = $1 WHERE id = $2', [total, taskId]);
  }

  async reclaimAbandoned(at: Date): Promise<number> {
    const before = new Date(at.getTime() - ABANDONED_INTAKE_MS).toISOString();
    const erased = await this.db.run(`DELETE FROM tasks WHERE status = 'pending' AND total = 0 AND created_at < $1`, [before]);
    if (erased > 0) await this.db.vacuum(SCAN_TABLES);
    return (await this.unfinished()).length;
  }

  async task(client: string, id: string): Promise<ScanTask | undefined> {
    const row = await this.db.row<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1 AND client = $2`, [id, client]);
    return row && taskOf(row);
  }

  async taskOfCollection(client: string, collection: string): Promise<ScanTask | undefined> {
    const row = await this.db.row<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE client = $1 AND collection = $2 ORDER BY created_at DESC, seq DESC LIMIT 1`, [
      client,
      collection,
    ]);
    return row && taskOf(row);
  }

  async unfinished(): Promise<ScanTask[]> {
    const rows = await this.db.rows<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE status IN ('pending', 'running') ORDER BY created_at, seq`);
    return rows.map(taskOf);
  }

  async fail(id: string, failure: string, at: string): Promise<boolean> {
    const sql = `UPDATE tasks SET status = 'failed', failure = $1, finished_at = $2, updated_at = $2 WHERE id = $3 AND status IN ('pending', 'running')`;
    return (await this.db.run(sql, [failure, at, id])) > 0;
  }

  async claimNext(lease: ScanLease, at: string): Promise<LeasedFile | undefined> {
    const until = new Date(Date.parse(at) + lease.seconds * 1000).toISOString();
    const row = await this.db.row<{ task_id: string; client: string; position: number; name: string; content: Buffer; attempts: number }>(
      `WITH next AS (
         SELECT f.task_id, f.position FROM scan_files f JOIN tasks t ON t.id = f.task_id
         WHERE t.status IN ('pending', 'running') AND t.total > 0 AND f.status = 'pending' AND (f.lease_until IS NULL OR f.lease_until < $1)
         ORDER BY t.created_at, t.seq, f.position
         LIMIT 1
         FOR UPDATE OF f SKIP LOCKED
       ), leased AS (
         UPDATE scan_files f SET attempts = f.attempts + 1, lease_until = $2, lease_holder = $3
         FROM next WHERE f.task_id = next.task_id AND f.position = next.position
         RETURNING f.task_id, f.position, f.name, f.content, f.attempts
       ), started AS (
         UPDATE tasks SET status = 'running', started_at = $1, started_processed = processed, updated_at = $1
         WHERE id = (SELECT task_id FROM leased) AND status = 'pending'
       )
       SELECT leased.*, t.client FROM leased JOIN tasks t ON t.id = leased.task_id`,
      [at, until, lease.holder],
    );
    if (!row) return undefined;
    const { task_id: taskId, position } = row;
    return { taskId, client: row.client, position, name: row.name, bytes: this.sealer.open(row.content, scanFilePlace(taskId, position, 'content')), attempts: row.attempts };
  }

  async releaseLeases(holder: string): Promise<void> {
    await this.db.run(`UPDATE scan_files SET lease_until = NULL, lease_holder = NULL WHERE lease_holder = $1 AND status = 'pending'`, [holder]);
  }

  async recordProfile(taskId: string, position: number, profile: StoredProfile, thumbnail: Buffer | null, at: string): Promise<Settled> {
    const sealedThumbnail = thumbnail && this.sealer.seal(thumbnail, scanFilePlace(taskId, position, 'thumbnail'));
    return this.settle(taskId, position, at, `status = 'done', profile = $4, thumbnail = $5`, JSON.stringify(profile), sealedThumbnail);
  }

  async recordFailure(taskId: string, position: number, error: string, at: string): Promise<Settled> {
    return this.settle(taskId, position, at, `status = 'failed', error = $4`, error);
  }

  /**
   * Settles a pending file and counts it in its task, in one statement: a file already settled
   * changes nothing. The task's row lock orders concurrent settles, so exactly one sees the last count.
   */
  private async settle(taskId: string, position: number, at: string, assignments: string, ...values: unknown[]): Promise<Settled> {
    const row = await this.db.row<{ status: string }>(
      `WITH settled AS (
         UPDATE scan_files SET ${assignments}, content = NULL, lease_until = NULL, lease_holder = NULL
         WHERE task_id = $1 AND position = $2 AND status = 'pending' RETURNING task_id
       )
       UPDATE tasks SET processed = processed + 1, updated_at = $3,
         status = CASE WHEN status IN ('pending', 'running') AND processed + 1 >= total THEN 'done' ELSE status END,
         finished_at = CASE WHEN status IN ('pending', 'running') AND processed + 1 >= total THEN $3 ELSE finished_at END
       WHERE id = (SELECT task_id FROM settled) RETURNING status`,
      [taskId, position, at, ...values],
    );
    if (!row) return 'stale';
    return row.status === 'done' ? 'finished' : 'counted';
  }

  async errors(taskId: string): Promise<FileError[]> {
    return this.db.rows<FileError>(`SELECT name AS file, error FROM scan_files WHERE task_id = $1 AND status = 'failed' ORDER BY position`, [taskId]);
  }

  async profileCount(taskId: string): Promise<number> {
    const row = await this.db.row<{ n: number }>(`SELECT COUNT(*)::integer AS n FROM scan_files WHERE task_id = $1 AND status = 'done'`, [taskId]);
    return row!.n;
  }

  async profiles(taskId: string, skip = 0, limit = -1): Promise<ProfiledFile[]> {
    // SQLite's LIMIT -1 is "no limit", which PostgreSQL spells LIMIT NULL.
    const rows = await this.db.rows<{ position: number; name: string; profile: string }>(
      `SELECT position, name, profile FROM scan_files WHERE task_id = $1 AND status = 'done' ORDER BY position LIMIT $2 OFFSET $3`,
      [taskId, limit < 0 ? null : limit, skip],
    );
    return rows.map((r) => ({ position: r.position, name: r.name, profile: JSON.parse(r.profile) as StoredProfile }));
  }

  async thumbnail(taskId: string, position: number): Promise<Buffer | undefined> {
    const row = await this.db.row<{ thumbnail: Buffer | null }>('SELECT thumbnail FROM scan_files WHERE task_id = $1 AND position = $2', [taskId, position]);
    return row?.thumbnail ? this.sealer.open(row.thumbnail, scanFilePlace(taskId, position, 'thumbnail')) : undefined;
  }

  async eraseFinishedBefore(cutoff: Date): Promise<number> {
    const erased = await this.db.run(`DELETE FROM tasks WHERE status IN ('done', 'failed') AND finished_at < $1`, [cutoff.toISOString()]);
    if (erased > 0) await this.db.vacuum(SCAN_TABLES);
    return erased;
  }

  async deleteCollection(client: string, collection: string): Promise<boolean> {
    const deleted = (await this.db.run('DELETE FROM tasks WHERE client = $1 AND collection = $2', [client, collection])) > 0;
    if (deleted) await this.db.vacuum(SCAN_TABLES);
    return deleted;
  }
}
