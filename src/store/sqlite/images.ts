import type Database from 'better-sqlite3';
import { type ImageMetadata, type ImageStore, imagePlace, type NewImage } from '../contract';
import { IMAGE_COLUMNS, IMAGE_METADATA_COLUMNS, type ImageMetadataRow, imageMetadataOf, imageRowValues } from '../rows';
import type { Sealer } from '../sealer';
import { flushErased } from './erasure';

/**
 * Stored images by key: the original bytes, their face crop (both sealed at rest) and metadata.
 * Every image belongs to a client; each read and change names it, and another client's key is
 * treated as unknown.
 */
export class SqliteImages implements ImageStore {
  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
  ) {}

  async insert(client: string, image: NewImage): Promise<void> {
    this.insertRow(client, image);
  }

  /** Stores an image of `client`, owned by `userId` and already used when given (an enrollment's own photo); inside the caller's transaction, if any. */
  insertRow(client: string, image: NewImage, owner?: { userId: number; usedAt: string }): void {
    this.db.prepare(`INSERT INTO images (${IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...imageRowValues(client, image, this.sealer, owner));
  }

  async metadata(client: string, key: string): Promise<ImageMetadata | undefined> {
    const row = this.db.prepare(`SELECT ${IMAGE_METADATA_COLUMNS} FROM images WHERE key = ? AND client = ?`).get(key, client) as ImageMetadataRow | undefined;
    return row && imageMetadataOf(row);
  }

  /** Records the first use of the image for an enrollment or a validation, which releases its crop. */
  async markUsed(client: string, key: string, at: string): Promise<void> {
    this.db.prepare('UPDATE images SET used_at = COALESCE(used_at, ?) WHERE key = ? AND client = ?').run(at, key, client);
  }

  /** True when the image belongs to an enrollment. */
  async isEnrolled(client: string, key: string): Promise<boolean> {
    return this.owner(client, key)?.user_id != null;
  }

  /** The image's row with its owner (null: never enrolled); undefined when the client has no such image. */
  owner(client: string, key: string): { user_id: number | null } | undefined {
    return this.db.prepare('SELECT user_id FROM images WHERE key = ? AND client = ?').get(key, client) as { user_id: number | null } | undefined;
  }

  async original(client: string, key: string): Promise<Buffer | undefined> {
    const row = this.db.prepare('SELECT original FROM images WHERE key = ? AND client = ?').get(key, client) as { original: Buffer } | undefined;
    return row && this.sealer.open(row.original, imagePlace(key, 'original'));
  }

  /** The face crop, once the image has been used; undefined before that or when there is none. */
  async croppedOfUsed(client: string, key: string): Promise<Buffer | undefined> {
    const row = this.db.prepare('SELECT cropped FROM images WHERE key = ? AND client = ? AND used_at IS NOT NULL').get(key, client) as { cropped: Buffer | null } | undefined;
    return row?.cropped ? this.sealer.open(row.cropped, imagePlace(key, 'cropped')) : undefined;
  }

  /** Erases the images no user owns (never enrolled) uploaded before `cutoff`, of every client; returns how many. */
  async eraseUnenrolledBefore(cutoff: Date): Promise<number> {
    // created_at is ISO 8601 to the second, which orders as text.
    const before = cutoff.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const erased = this.db.prepare('DELETE FROM images WHERE user_id IS NULL AND created_at < ?').run(before).changes;
    if (erased > 0) flushErased(this.db);
    return erased;
  }
}
