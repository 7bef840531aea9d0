import type Database from 'better-sqlite3';
import { flushErased } from './erasure';
import type { BlobPlace, Sealer } from './sealer';

export interface ImageMetadata {
  key: string;
  contentType: string;
  fileSize: number;
  width: number;
  height: number;
  /** ISO 8601, UTC. */
  createdAt: string;
  /** When the image was first used for an enrollment or a validation; null until then. */
  usedAt: string | null;
}

export interface NewImage extends Omit<ImageMetadata, 'usedAt'> {
  original: Buffer;
  /** The aligned face crop, JPEG. */
  cropped: Buffer;
  /** The gate's findings, JSON. */
  analysis: string;
}

interface MetadataRow {
  key: string;
  content_type: string;
  file_size: number;
  width_px: number;
  height_px: number;
  created_at: string;
  used_at: string | null;
}

/** Where an image's original bytes or face crop are stored, which its seal is bound to. */
export const imagePlace = (key: string, column: 'original' | 'cropped'): BlobPlace => ({ table: 'images', row: key, column });

const METADATA = 'key, content_type, file_size, width_px, height_px, created_at, used_at';

/**
 * Stored images by key: the original bytes, their face crop (both sealed at rest) and metadata.
 * Every image belongs to a client; each read and change names it, and another client's key is
 * treated as unknown.
 */
export class ImageRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly sealer: Sealer,
  ) {}

  /** Stores an image of `client`, owned by `userId` and already used when given (an enrollment's own photo). */
  insert(client: string, image: NewImage, owner?: { userId: number; usedAt: string }): void {
    this.db
      .prepare(
        `INSERT INTO images (key, client, user_id, content_type, file_size, width_px, height_px, original, cropped, analysis, created_at, used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        image.key,
        client,
        owner?.userId ?? null,
        image.contentType,
        image.fileSize,
        image.width,
        image.height,
        this.sealer.seal(image.original, imagePlace(image.key, 'original')),
        this.sealer.seal(image.cropped, imagePlace(image.key, 'cropped')),
        image.analysis,
        image.createdAt,
        owner?.usedAt ?? null,
      );
  }

  metadata(client: string, key: string): ImageMetadata | undefined {
    const row = this.db.prepare(`SELECT ${METADATA} FROM images WHERE key = ? AND client = ?`).get(key, client) as MetadataRow | undefined;
    if (!row) return undefined;
    return {
      key: row.key,
      contentType: row.content_type,
      fileSize: row.file_size,
      width: row.width_px,
      height: row.height_px,
      createdAt: row.created_at,
      usedAt: row.used_at,
    };
  }

  /** Records the first use of the image for an enrollment or a validation, which releases its crop. */
  markUsed(client: string, key: string, at: string): void {
    this.db.prepare('UPDATE images SET used_at = COALESCE(used_at, ?) WHERE key = ? AND client = ?').run(at, key, client);
  }

  /** True when the image belongs to an enrollment. */
  isEnrolled(client: string, key: string): boolean {
    const row = this.db.prepare('SELECT user_id FROM images WHERE key = ? AND client = ?').get(key, client) as { user_id: number | null } | undefined;
    return row?.user_id != null;
  }

  original(client: string, key: string): Buffer | undefined {
    const row = this.db.prepare('SELECT original FROM images WHERE key = ? AND client = ?').get(key, client) as { original: Buffer } | undefined;
    return row && this.sealer.open(row.original, imagePlace(key, 'original'));
  }

  /** The face crop, once the image has been used; undefined before that or when there is none. */
  croppedOfUsed(client: string, key: string): Buffer | undefined {
    const row = this.db.prepare('SELECT cropped FROM images WHERE key = ? AND client = ? AND used_at IS NOT NULL').get(key, client) as { cropped: Buffer | null } | undefined;
    return row?.cropped ? this.sealer.open(row.cropped, imagePlace(key, 'cropped')) : undefined;
  }

  /** Erases the images no user owns (never enrolled) uploaded before `cutoff`, of every client; returns how many. */
  eraseUnenrolledBefore(cutoff: Date): number {
    // created_at is ISO 8601 to the second, which orders as text.
    const before = cutoff.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const erased = this.db.prepare('DELETE FROM images WHERE user_id IS NULL AND created_at < ?').run(before).changes;
    if (erased > 0) flushErased(this.db);
    return erased;
  }
}
