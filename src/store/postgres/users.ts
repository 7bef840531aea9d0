import type { DatabaseError } from 'pg';
import {
  type EmbeddingSpace,
  EnrollmentConflict,
  imagePlace,
  type NewEnrollment,
  type OutdatedUser,
  type TemplateChangeRecord,
  type TemplateRecord,
  templatePlace,
  type UserMetadata,
  type UserStore,
} from '../contract';
import { fromBlob, toBlob, userMetadataOf } from '../rows';
import type { Sealer } from '../sealer';
import type { Database } from './database';
import type { PostgresImages } from './images';
import { enrollmentLock, TEMPLATE_CHANGES_LOCK } from './locks';

/** The tables an erased user leaves dead rows in. */
const USER_TABLES = ['users', 'images', 'templates'];

/**
 * Inside a transaction, as its last statement: records that the templates of `username` of `client`
 * changed (username null: the client's users were erased; client null too: every client's), then
 * holds the feed's lock until the commit; the change's number.
 */
export async function recordTemplateChange(db: Database, client: string | null, username: string | null): Promise<number> {
  await db.run('SELECT pg_advisory_xact_lock($1, $2)', TEMPLATE_CHANGES_LOCK);
  const row = await db.row<{ id: string }>('INSERT INTO template_changes (client, username, recorded_at) VALUES ($1, $2, $3) RETURNING id', [
    client,
    username,
    new Date().toISOString(),
  ]);
  return Number(row!.id);
}

const isUsernameTaken = (error: unknown): boolean =>
  (error as DatabaseError).code === '23505' && (error as DatabaseError).constraint === 'users_client_username';

/** Enrolled people in PostgreSQL, as the SQLite UserRepository keeps them: usernames unique per client, templates sealed. */
export class PostgresUsers implements UserStore {
  constructor(
    private readonly db: Database,
    private readonly sealer: Sealer,
    private readonly images: PostgresImages,
  ) {}

  private async userId(client: string, username: string): Promise<number | undefined> {
    const row = await this.db.row<{ id: string }>('SELECT id FROM users WHERE client = $1 AND username = $2', [client, username]);
    return row && Number(row.id);
  }

  /** Inside a transaction: waits for the client's other enrollments and template replacements, on every replica, until commit. */
  private async lockEnrollments(client: string): Promise<void> {
    await this.db.run('SELECT pg_advisory_xact_lock($1, $2)', enrollmentLock(client));
  }

  async exists(client: string, username: string): Promise<boolean> {
    return (await this.userId(client, username)) !== undefined;
  }

  async templates(client: string, space: EmbeddingSpace): Promise<{ username: string; embedding: Float32Array }[]> {
    const rows = await this.db.rows<{ username: string; id: string; embedding: Buffer }>(
      'SELECT u.username, t.id, t.embedding FROM templates t JOIN users u ON u.id = t.user_id WHERE u.client = $1 AND t.model = $2 AND t.model_version = $3',
      [client, space.model, space.modelVersion],
    );
    return rows.map((r) => ({ username: r.username, embedding: fromBlob(this.sealer.open(r.embedding, templatePlace(Number(r.id)))) }));
  }

  async templatesOf(client: string, username: string, space: EmbeddingSpace): Promise<Float32Array[]> {
    const rows = await this.db.rows<{ id: string; embedding: Buffer }>(
      `SELECT t.id, t.embedding FROM templates t JOIN users u ON u.id = t.user_id
       WHERE u.client = $1 AND u.username = $2 AND t.model = $3 AND t.model_version = $4`,
      [client, username, space.model, space.modelVersion],
    );
    return rows.map((r) => fromBlob(this.sealer.open(r.embedding, templatePlace(Number(r.id)))));
  }

  async enrolledOriginals(client: string, username: string): Promise<Buffer[]> {
    const rows = await this.db.rows<{ key: string; original: Buffer }>(
      'SELECT i.key, i.original FROM images i JOIN users u ON u.id = i.user_id WHERE u.client = $1 AND u.username = $2',
      [client, username],
    );
    return rows.map((r) => this.sealer.open(r.original, imagePlace(r.key, 'original')));
  }

  async outdated(space: EmbeddingSpace): Promise<OutdatedUser[]> {
    const rows = await this.db.rows<{ user_id: string; client: string; username: string; id: string; image_key: string | null }>(
      `SELECT u.id AS user_id, u.client, u.username, t.id, t.image_key FROM templates t JOIN users u ON u.id = t.user_id
       WHERE u.id IN (SELECT user_id FROM templates WHERE model <> $1 OR model_version <> $2) ORDER BY u.id, t.id`,
      [space.model, space.modelVersion],
    );
    const byUser = new Map<string, OutdatedUser>();
    for (const r of rows) {
      const user = byUser.get(r.user_id) ?? { client: r.client, username: r.username, templates: [] };
      user.templates.push({ id: Number(r.id), imageKey: r.image_key });
      byUser.set(r.user_id, user);
    }
    return [...byUser.values()];
  }

  async replaceTemplates(client: string, username: string, replacements: { imageKey: string; template: TemplateRecord }[], createdAt: string): Promise<void> {
    await this.db.transaction(async () => {
      // The client's enrollment lock: an enrollment's duplicate check sees this user's templates in
      // the new space either all or none, and two replicas replacing one user's templates take
      // turns, the second deleting what the first inserted instead of adding to it.
      await this.lockEnrollments(client);
      const userId = await this.userId(client, username);
      if (userId === undefined) return;
      await this.db.run('DELETE FROM templates WHERE user_id = $1', [userId]);
      for (const { imageKey, template } of replacements) await this.insertTemplate(userId, imageKey, template, createdAt);
      await recordTemplateChange(this.db, client, username);
    });
  }

  /**
   * Enrollments of one client take turns on the client's transaction-level advisory lock, held from
   * before the checks until the commit; other clients' enrollments go on in parallel. A serialisable
   * transaction would not do: it would also abort one of two enrollments that do not conflict at
   * all (both read the client's templates and both insert), and a row lock cannot cover the
   * duplicate-face check, which reads every template of the client, including rows that do not exist
   * yet. The unique (client, username) constraint backs the username check up.
   */
  async enroll(client: string, enrollment: NewEnrollment, duplicateOf: () => Promise<string | undefined>): Promise<number> {
    try {
      return await this.db.transaction(async () => {
        await this.lockEnrollments(client);
        if (await this.exists(client, enrollment.username)) throw new EnrollmentConflict('DUPLICATE_USERNAME');
        if ('key' in enrollment.image) {
          // Locked so that retention cannot erase the unused image between this check and its update.
          const row = await this.db.row<{ user_id: string | null }>('SELECT user_id FROM images WHERE key = $1 AND client = $2 FOR UPDATE', [
            enrollment.image.key,
            client,
          ]);
          if (!row) throw new EnrollmentConflict('UNKNOWN_IMAGE_KEY');
          if (row.user_id !== null) throw new EnrollmentConflict('IMAGE_KEY_TAKEN');
        }
        const other = await duplicateOf();
        if (other !== undefined) throw new EnrollmentConflict('FACE_ALREADY_ENROLLED', other);
        const user = await this.db.row<{ id: string }>('INSERT INTO users (client, username, created_at) VALUES ($1, $2, $3) RETURNING id', [
          client,
          enrollment.username,
          enrollment.createdAt,
        ]);
        const userId = Number(user!.id);
        let imageKey: string;
        if ('upload' in enrollment.image) {
          imageKey = enrollment.image.upload.key;
          await this.images.insertOwned(client, enrollment.image.upload, { userId, usedAt: enrollment.createdAt });
        } else {
          imageKey = enrollment.image.key;
          await this.db.run('UPDATE images SET user_id = $1, used_at = COALESCE(used_at, $2) WHERE key = $3', [userId, enrollment.createdAt, imageKey]);
        }
        await this.insertTemplate(userId, imageKey, enrollment.template, enrollment.createdAt);
        return recordTemplateChange(this.db, client, enrollment.username);
      });
    } catch (error) {
      if (isUsernameTaken(error)) throw new EnrollmentConflict('DUPLICATE_USERNAME');
      throw error;
    }
  }

  /** Inside a transaction: the row's id drawn first, so that its embedding is sealed to it in a single insert. */
  private async insertTemplate(userId: number, imageKey: string, template: TemplateRecord, createdAt: string): Promise<void> {
    const row = await this.db.row<{ id: string }>(`SELECT nextval(pg_get_serial_sequence('templates', 'id')) AS id`);
    const id = Number(row!.id);
    await this.db.run('INSERT INTO templates (id, user_id, image_key, model, model_version, embedding, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      id,
      userId,
      imageKey,
      template.model,
      template.modelVersion,
      this.sealer.seal(toBlob(template.embedding), templatePlace(id)),
      createdAt,
    ]);
  }

  async metadata(client: string, username: string): Promise<UserMetadata | undefined> {
    const user = await this.db.row<{ id: string; username: string; created_at: string }>(
      'SELECT id, username, created_at FROM users WHERE client = $1 AND username = $2',
      [client, username],
    );
    if (!user) return undefined;
    const templates = await this.db.rows<{ model: string; model_version: string; created_at: string }>(
      'SELECT model, model_version, created_at FROM templates WHERE user_id = $1 ORDER BY id',
      [user.id],
    );
    const images = await this.db.rows<{ key: string }>('SELECT key FROM images WHERE user_id = $1 ORDER BY created_at', [user.id]);
    return userMetadataOf(user, templates, images);
  }

  /** Erases the user with their templates and images (cascade), then VACUUMs the tables they were in. */
  async delete(client: string, username: string): Promise<boolean> {
    const deleted = await this.db.transaction(async () => {
      const gone = (await this.db.run('DELETE FROM users WHERE client = $1 AND username = $2', [client, username])) > 0;
      if (gone) await recordTemplateChange(this.db, client, username);
      return gone;
    });
    if (deleted) await this.db.vacuum(USER_TABLES);
    return deleted;
  }

  async latestChange(): Promise<number> {
    const row = await this.db.row<{ id: string | null }>('SELECT max(id) AS id FROM template_changes');
    return Number(row?.id ?? 0);
  }

  async changesAfter(after: number, limit: number): Promise<TemplateChangeRecord[]> {
    const rows = await this.db.rows<{ id: string; client: string | null; username: string | null }>(
      'SELECT id, client, username FROM template_changes WHERE id > $1 ORDER BY id LIMIT $2',
      [after, limit],
    );
    return rows.map((r) => ({ id: Number(r.id), client: r.client, username: r.username }));
  }

  async eraseChangesBefore(cutoff: Date): Promise<number> {
    return this.db.run('DELETE FROM template_changes WHERE recorded_at < $1 AND id < (SELECT max(id) FROM template_changes)', [cutoff.toISOString()]);
  }
}
