import type Database from 'better-sqlite3';
import { type ImageRepository, imagePlace, type NewImage } from './images';
import { flushErased } from './erasure';
import type { BlobPlace, Sealer } from './sealer';

/** Which model, at which exact version, made an embedding: only embeddings of one space compare. */
export interface EmbeddingSpace {
  model: string;
  modelVersion: string;
}

export interface TemplateRecord extends EmbeddingSpace {
  embedding: Float32Array;
}

export interface NewEnrollment {
  username: string;
  createdAt: string;
  template: TemplateRecord;
  /** The photo enrolled: a new upload, or the key of an image already stored. */
  image: { upload: NewImage } | { key: string };
}

export interface OutdatedUser {
  client: string;
  username: string;
  templates: { id: number; imageKey: string | null }[];
}

export interface UserMetadata {
  username: string;
  createdAt: string;
  templates: { model: string; modelVersion: string; createdAt: string }[];
  imageKeys: string[];
}

/** Raised inside an enrollment transaction; nothing of the enrollment is written. */
export class EnrollmentConflict extends Error {
  constructor(
    readonly reason: 'DUPLICATE_USERNAME' | 'FACE_ALREADY_ENROLLED' | 'UNKNOWN_IMAGE_KEY' | 'IMAGE_KEY_TAKEN',
    readonly otherUser?: string,
  ) {
    super(reason);
  }
}

export const toBlob = (embedding: Float32Array): Buffer => Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
export const fromBlob = (blob: Buffer): Float32Array => {
  const copy = Buffer.from(blob);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
};

/** Where a template's embedding is stored, which its seal is bound to. */
export const templatePlace = (id: number): BlobPlace => ({ table: 'templates', row: id, column: 'embedding' });

/**
 * Enrolled people: a user row, their face templates (sealed at rest) and their images. A user
 * belongs to a client, and usernames are unique per client: every method names the client.
 */
export class UserRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
    private readonly images: ImageRepository,
  ) {}

  private userId(client: string, username: string): number | undefined {
    return (this.db.prepare('SELECT id FROM users WHERE client = ? AND username = ?').get(client, username) as { id: number } | undefined)?.id;
  }

  exists(client: string, username: string): boolean {
    return this.userId(client, username) !== undefined;
  }

  /**
   * Every template of the client's users in one embedding space (model and exact version), with
   * its owner, for a 1:N search. Templates of other spaces are left out: their similarities would mean nothing.
   */
  templates(client: string, space: EmbeddingSpace): { username: string; embedding: Float32Array }[] {
    const rows = this.db
      .prepare('SELECT u.username, t.id, t.embedding FROM templates t JOIN users u ON u.id = t.user_id WHERE u.client = ? AND t.model = ? AND t.model_version = ?')
      .all(client, space.model, space.modelVersion) as { username: string; id: number; embedding: Buffer }[];
    return rows.map((r) => ({ username: r.username, embedding: fromBlob(this.sealer.open(r.embedding, templatePlace(r.id))) }));
  }

  /** The user's templates in one embedding space; empty when they were enrolled with another model. */
  templatesOf(client: string, username: string, space: EmbeddingSpace): Float32Array[] {
    const rows = this.db
      .prepare('SELECT t.id, t.embedding FROM templates t JOIN users u ON u.id = t.user_id WHERE u.client = ? AND u.username = ? AND t.model = ? AND t.model_version = ?')
      .all(client, username, space.model, space.modelVersion) as { id: number; embedding: Buffer }[];
    return rows.map((r) => fromBlob(this.sealer.open(r.embedding, templatePlace(r.id))));
  }

  /** The original bytes of every image enrolled for the user (for replay checks). */
  enrolledOriginals(client: string, username: string): Buffer[] {
    const rows = this.db
      .prepare('SELECT i.key, i.original FROM images i JOIN users u ON u.id = i.user_id WHERE u.client = ? AND u.username = ?')
      .all(client, username) as { key: string; original: Buffer }[];
    return rows.map((r) => this.sealer.open(r.original, imagePlace(r.key, 'original')));
  }

  /**
   * Users of every client with at least one template outside `space`, each with the stored images
   * behind their templates (a maintenance pass over the whole database, not a client's request).
   */
  outdated(space: EmbeddingSpace): OutdatedUser[] {
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
  replaceTemplates(client: string, username: string, replacements: { imageKey: string; template: TemplateRecord }[], createdAt: string): void {
    this.db.transaction(() => {
      const userId = this.userId(client, username);
      if (userId === undefined) return;
      this.db.prepare('DELETE FROM templates WHERE user_id = ?').run(userId);
      for (const { imageKey, template } of replacements) this.insertTemplate(userId, imageKey, template, createdAt);
    })();
  }

  /**
   * Stores user, template and image for `client` in one transaction. `duplicateOf`, run inside it,
   * names an enrolled user with the same face (then nothing is written): checking and writing
   * together means two simultaneous enrollments of one face cannot both pass. An image key of
   * another client is unknown here.
   */
  enroll(client: string, enrollment: NewEnrollment, duplicateOf: () => string | undefined): void {
    this.db.transaction(() => {
      if (this.exists(client, enrollment.username)) throw new EnrollmentConflict('DUPLICATE_USERNAME');
      if ('key' in enrollment.image) {
        const row = this.db.prepare('SELECT user_id FROM images WHERE key = ? AND client = ?').get(enrollment.image.key, client) as
          | { user_id: number | null }
          | undefined;
        if (!row) throw new EnrollmentConflict('UNKNOWN_IMAGE_KEY');
        if (row.user_id !== null) throw new EnrollmentConflict('IMAGE_KEY_TAKEN');
      }
      const other = duplicateOf();
      if (other !== undefined) throw new EnrollmentConflict('FACE_ALREADY_ENROLLED', other);
      const { lastInsertRowid } = this.db
        .prepare('INSERT INTO users (client, username, created_at) VALUES (?, ?, ?)')
        .run(client, enrollment.username, enrollment.createdAt);
      const userId = Number(lastInsertRowid);
      let imageKey: string;
      if ('upload' in enrollment.image) {
        imageKey = enrollment.image.upload.key;
        this.images.insert(client, enrollment.image.upload, { userId, usedAt: enrollment.createdAt });
      } else {
        imageKey = enrollment.image.key;
        this.db.prepare('UPDATE images SET user_id = ?, used_at = COALESCE(used_at, ?) WHERE key = ?').run(userId, enrollment.createdAt, imageKey);
      }
      this.insertTemplate(userId, imageKey, enrollment.template, enrollment.createdAt);
    })();
  }

  /** Inside a transaction: the row first, then its embedding, sealed to the row id the insert gave. */
  private insertTemplate(userId: number, imageKey: string, template: TemplateRecord, createdAt: string): void {
    const { lastInsertRowid } = this.db
      .prepare(`INSERT INTO templates (user_id, image_key, model, model_version, embedding, created_at) VALUES (?, ?, ?, ?, x'', ?)`)
      .run(userId, imageKey, template.model, template.modelVersion, createdAt);
    const id = Number(lastInsertRowid);
    this.db.prepare('UPDATE templates SET embedding = ? WHERE id = ?').run(this.sealer.seal(toBlob(template.embedding), templatePlace(id)), id);
  }

  metadata(client: string, username: string): UserMetadata | undefined {
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
    return {
      username: user.username,
      createdAt: user.created_at,
      templates: templates.map((t) => ({ model: t.model, modelVersion: t.model_version, createdAt: t.created_at })),
      imageKeys: images.map((i) => i.key),
    };
  }

  /** Erases the user with their templates and images (cascade), leaving no copy in the database files. */
  delete(client: string, username: string): boolean {
    const deleted = this.db.prepare('DELETE FROM users WHERE client = ? AND username = ?').run(client, username).changes > 0;
    if (deleted) flushErased(this.db);
    return deleted;
  }
}
