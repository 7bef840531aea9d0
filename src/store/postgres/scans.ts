import { type ClaimedFile, type FileError, type ProfiledFile, type ScanStore, type ScanTask, scanFilePlace, type StoredProfile, type UploadedFile } from '../contract';
import { type TaskRow, taskOf } from '../rows';
import type { Sealer } from '../sealer';
import type { Database } from './database';

/** The tables an erased scan leaves dead rows in. */
const SCAN_TABLES = ['tasks', 'scan_files'];

const TASK_COLUMNS = 'id, client, collection, status, total, processed, failure, created_at, updated_at, started_at, started_processed, finished_at';

/**
 * Batch-scan tasks and their files in PostgreSQL, as the SQLite ScanRepository keeps them. Claiming
 * and settling a file are single statements, so replicas working on one task never count a file twice.
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

  async eraseIncompleteIntakes(): Promise<number> {
    const erased = await this.db.run(`DELETE FROM tasks WHERE status = 'pending' AND total = 0`);
    if (erased > 0) await this.db.vacuum(SCAN_TABLES);
    return erased;
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

  async start(id: string, at: string): Promise<void> {
    await this.db.run(`UPDATE tasks SET status = 'running', started_at = $1, started_processed = processed, updated_at = $1 WHERE id = $2`, [at, id]);
  }

  async finish(id: string, at: string): Promise<void> {
    await this.db.run(`UPDATE tasks SET status = 'done', finished_at = $1, updated_at = $1 WHERE id = $2`, [at, id]);
  }

  async fail(id: string, failure: string, at: string): Promise<void> {
    await this.db.run(`UPDATE tasks SET status = 'failed', failure = $1, finished_at = $2, updated_at = $2 WHERE id = $3`, [failure, at, id]);
  }

  async pendingPositions(taskId: string): Promise<number[]> {
    const rows = await this.db.rows<{ position: number }>(`SELECT position FROM scan_files WHERE task_id = $1 AND status = 'pending' ORDER BY position`, [taskId]);
    return rows.map((r) => r.position);
  }

  async claim(taskId: string, position: number): Promise<ClaimedFile | undefined> {
    const row = await this.db.row<{ name: string; content: Buffer; attempts: number }>(
      `UPDATE scan_files SET attempts = attempts + 1 WHERE task_id = $1 AND position = $2 AND status = 'pending' RETURNING name, content, attempts`,
      [taskId, position],
    );
    if (!row) return undefined;
    return { position, name: row.name, bytes: this.sealer.open(row.content, scanFilePlace(taskId, position, 'content')), attempts: row.attempts };
  }

  async recordProfile(taskId: string, position: number, profile: StoredProfile, thumbnail: Buffer | null, at: string): Promise<void> {
    const sealedThumbnail = thumbnail && this.sealer.seal(thumbnail, scanFilePlace(taskId, position, 'thumbnail'));
    await this.settle(taskId, position, at, `status = 'done', profile = $4, thumbnail = $5`, JSON.stringify(profile), sealedThumbnail);
  }

  async recordFailure(taskId: string, position: number, error: string, at: string): Promise<void> {
    await this.settle(taskId, position, at, `status = 'failed', error = $4`, error);
  }

  /** Settles a pending file and counts it in its task, in one statement: a file already settled changes nothing. */
  private async settle(taskId: string, position: number, at: string, assignments: string, ...values: unknown[]): Promise<void> {
    await this.db.run(
      `WITH settled AS (
         UPDATE scan_files SET ${assignments}, content = NULL WHERE task_id = $1 AND position = $2 AND status = 'pending' RETURNING task_id
       )
       UPDATE tasks SET processed = processed + 1, updated_at = $3 WHERE id = (SELECT task_id FROM settled)`,
      [taskId, position, at, ...values],
    );
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
