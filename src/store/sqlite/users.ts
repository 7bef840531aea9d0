import type Database from 'better-sqlite3';
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
import { KeyedLock } from '../../keyed-lock';
import { flushErased } from './erasure';
import type { SqliteImages } from './images';

/**
 * Inside a transaction: records that the templates of `username` of `client` changed (username
 * null: the client's users were erased; client null too: every client's); the change's number.
 */
export function recordTemplateChange(db: Database.Database, client: string | null, username: string | null): number {
  const insert = db.prepare('INSERT INTO template_changes (client, username, recorded_at) VALUES (?, ?, ?)');
  return Number(insert.run(client, username, new Date().toISOString()).lastInsertRowid);
}

/**
 * Enrolled people: a user row, their face templates (sealed at rest) and their images. A user
 * belongs to a client, and usernames are unique per client: every method names the client.
 */
export class SqliteUsers implements UserStore {
  /** Enrollments of one client, one at a time: held across the duplicate search and the write. */
  private readonly enrolling = new KeyedLock();

  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
    private readonly images: SqliteImages,
  ) {}

  private userId(client: string, username: string): number | undefined {
    return (this.db.prepare('SELECT id FROM users WHERE client = ? AND username = ?').get(client, username) as { id: number } | undefined)?.id;
  }

  async exists(client: string, username: string): Promise<boolean> {
    return this.userId(client, username) !== undefined;
  }

  /**
   * Every template of the client's users in one embedding space (model and exact version), with
   * its owner, for a 1:N search. Templates of other spaces are left out: their similarities would mean nothing.
   */
  async templates(client: string, space: EmbeddingSpace): Promise<{ username: string; embedding: Float32Array }[]> {
    const rows = this.db
      .prepare('SELECT u.username, t.id, t.embedding FROM templates t JOIN users u ON u.id = t.user_id WHERE u.client = ? AND t.model = ? AND t.model_version = ?')
      .all(client, space.model, space.modelVersion) as { username: string; id: number; embedding: Buffer }[];
    return rows.map((r) => ({ username: r.username, embedding: fromBlob(this.sealer.open(r.embedding, templatePlace(r.id))) }));
  }

  /** The user's templates in one embedding space; empty when they were enrolled with another model. */
  async templatesOf(client: string, username: string, space: EmbeddingSpace): Promise<Float32Array[]> {
    const rows = this.db
      .prepare('SELECT t.id, t.embedding FROM templates t JOIN users u ON u.id = t.user_id WHERE u.client = ? AND u.username = ? AND t.model = ? AND t.model_version = ?')
      .all(client, username, space.model, space.modelVersion) as { id: number; embedding: Buffer }[];
    return rows.map((r) => fromBlob(this.sealer.open(r.embedding, templatePlace(r.id))));
  }

  /** The original bytes of every image enrolled for the user (for replay checks). */
  async enrolledOriginals(client: string, username: string): Promise<Buffer[]> {
    const rows = this.db
      .prepare('SELECT i.key, i.original FROM images i JOIN users u ON u.id = i.user_id WHERE u.client = ? AND u.username = ?')
      .all(client, username) as { key: string; original: Buffer }[];
    return rows.map((r) => this.sealer.open(r.original, imagePlace(r.key, 'original')));
  }

  /**
   * Users of every client with at least one template outside `space`, each with the stored images
   * behind their templates (a maintenance pass over the whole database, not a client's request).
   */
  async outdated(space: EmbeddingSpace): Promise<OutdatedUser[]> {
    const rows = this.db
      .prepare(
        `SELECT u.id AS user_id, u.client, u.username, t.id, t.image_key FROM templates t JOIN users u ON u.id = t.user_id
         WHERE u.id IN (SELECT user_id FROM templates WHERE model <> ? OR model_version <> ?) ORDER BY u.id, t.id`,
      )
      .all(space.model, space.modelVersion) as { user_id: number; client: string; username: string; id: number; image_key: string | null }[];
    const byUser = new Map<number, OutdatedUser>();
    for (const r of rows) {
      const user = byUser.get(r.user_id) ?? { client: r.client, username: r.username, templates: [] };
      user.templates.push({ id: r.id, imageKey: r.image_key });
      byUser.set(r.user_id, user);
    }
    return [...byUser.values()];
  }

  /**
   * Replaces the user's templates with `replacements` (each made from a stored image) in one
   * transaction: either every template of the user is in the new space afterwards, or none changed.
   */
  async replaceTemplates(client: string, username: string, replacements: { imageKey: string; template: TemplateRecord }[], createdAt: string): Promise<void> {
    this.db.transaction(() => {
      const userId = this.userId(client, username);
      if (userId === undefined) return;
      this.db.prepare('DELETE FROM templates WHERE user_id = ?').run(userId);
      for (const { imageKey, template } of replacements) this.insertTemplate(userId, imageKey, template, createdAt);
      recordTemplateChange(this.db, client, username);
    })();
  }

  /**
   * Stores user, template and image for `client` in one transaction, or writes nothing and rejects
   * with an EnrollmentConflict. better-sqlite3's transactions cannot wait for `duplicateOf`, so
   * the client's enrollments take turns in this process (the lock) from the first check to the
   * commit: two simultaneous enrollments of one username or one face cannot both pass. The checks
   * run again inside the transaction, against other writers (a reset, a retention sweep). An image
   * key of another client is unknown here.
   */
  async enroll(client: string, enrollment: NewEnrollment, duplicateOf: () => Promise<string | undefined>): Promise<number> {
    return this.enrolling.run(client, async () => {
      this.checkEnrollable(client, enrollment);
      const other = await duplicateOf();
      if (other !== undefined) throw new EnrollmentConflict('FACE_ALREADY_ENROLLED', other);
      return this.db.transaction(() => {
        this.checkEnrollable(client, enrollment);
        const { lastInsertRowid } = this.db
          .prepare('INSERT INTO users (client, username, created_at) VALUES (?, ?, ?)')
          .run(client, enrollment.username, enrollment.createdAt);
        const userId = Number(lastInsertRowid);
        let imageKey: string;
        if ('upload' in enrollment.image) {
          imageKey = enrollment.image.upload.key;
          this.images.insertRow(client, enrollment.image.upload, { userId, usedAt: enrollment.createdAt });
        } else {
          imageKey = enrollment.image.key;
          this.db.prepare('UPDATE images SET user_id = ?, used_at = COALESCE(used_at, ?) WHERE key = ?').run(userId, enrollment.createdAt, imageKey);
        }
        this.insertTemplate(userId, imageKey, enrollment.template, enrollment.createdAt);
        return recordTemplateChange(this.db, client, enrollment.username);
      })();
    });
  }

  /** The username is free and the image key, if one is named, is the client's and not enrolled yet. */
  private checkEnrollable(client: string, enrollment: NewEnrollment): void {
    if (this.userId(client, enrollment.username) !== undefined) throw new EnrollmentConflict('DUPLICATE_USERNAME');
    if ('key' in enrollment.image) {
      const image = this.images.owner(client, enrollment.image.key);
      if (!image) throw new EnrollmentConflict('UNKNOWN_IMAGE_KEY');
      if (image.user_id !== null) throw new EnrollmentConflict('IMAGE_KEY_TAKEN');
    }
  }

  /** Inside a transaction: the row first, then its embedding, sealed to the row id the insert gave. */
  private insertTemplate(userId: number, imageKey: string, template: TemplateRecord, createdAt: string): void {
    const { lastInsertRowid } = this.db
      .prepare(`INSERT INTO templates (user_id, image_key, model, model_version, embedding, created_at) VALUES (?, ?, ?, ?, x'', ?)`)
      .run(userId, imageKey, template.model, template.modelVersion, createdAt);
    const id = Number(lastInsertRowid);
    this.db.prepare('UPDATE templates SET embedding = ? WHERE id = ?').run(this.sealer.seal(toBlob(template.embedding), templatePlace(id)), id);
  }

  async metadata(client: string, username: string): Promise<UserMetadata | undefined> {
    const user = this.db.prepare('SELECT id, username, created_at FROM users WHERE client = ? AND username = ?').get(client, username) as
      | { id: number; username: string; created_at: string }
      | undefined;
    if (!user) return undefined;
    const templates = this.db.prepare('SELECT model, model_version, created_at FROM templates WHERE user_id = ? ORDER BY id').all(user.id) as {
      model: string;
      model_version: string;
      created_at: string;
    }[];
    const images = this.db.prepare('SELECT key FROM images WHERE user_id = ? ORDER BY created_at').all(user.id) as { key: string }[];
    return userMetadataOf(user, templates, images);
  }

  /** Erases the user with their templates and images (cascade), leaving no copy in the database files. */
  async delete(client: string, username: string): Promise<boolean> {
    const deleted = this.db.transaction(() => {
      const gone = this.db.prepare('DELETE FROM users WHERE client = ? AND username = ?').run(client, username).changes > 0;
      if (gone) recordTemplateChange(this.db, client, username);
      return gone;
    })();
    if (deleted) flushErased(this.db);
    return deleted;
  }

  async latestChange(): Promise<number> {
    return (this.db.prepare('SELECT max(id) AS id FROM template_changes').get() as { id: number | null }).id ?? 0;
  }

  async changesAfter(after: number, limit: number): Promise<TemplateChangeRecord[]> {
    return this.db.prepare('SELECT id, client, username FROM template_changes WHERE id > ? ORDER BY id LIMIT ?').all(after, limit) as TemplateChangeRecord[];
  }

  async eraseChangesBefore(cutoff: Date): Promise<number> {
    const sql = 'DELETE FROM template_changes WHERE recorded_at < ? AND id < (SELECT max(id) FROM template_changes)';
    return this.db.prepare(sql).run(cutoff.toISOString()).changes;
  }
}
