import type { ImageMetadata, ImageStore, NewImage } from '../contract';
import { imagePlace } from '../contract';
import type { Sealer } from '../sealer';
import type { Database } from './database';

interface MetadataRow {
  key: string;
  content_type: string;
  file_size: number;
  width_px: number;
  height_px: number;
  created_at: string;
  used_at: string | null;
}

/** Images by key in PostgreSQL, as the SQLite ImageRepository stores them: sealed blobs, one client per image. */
export class PostgresImages implements ImageStore {
  constructor(
    private readonly db: Database,
    private readonly sealer: Sealer,
  ) {}

  insert(client: string, image: NewImage): Promise<void> {
    return this.insertOwned(client, image);
  }

  /** Stores an image of `client`, owned by `userId` and already used when given (an enrollment's own photo). */
  async insertOwned(client: string, image: NewImage, owner?: { userId: number; usedAt: string }): Promise<void> {
    await this.db.run(
      `INSERT INTO images (key, client, user_id, content_type, file_size, width_px, height_px, original, cropped, analysis, created_at, used_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
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
      ],
    );
  }

  async metadata(client: string, key: string): Promise<ImageMetadata | undefined> {
    const row = await this.db.row<MetadataRow>(
      'SELECT key, content_type, file_size, width_px, height_px, created_at, used_at FROM images WHERE key = $1 AND client = $2',
      [key, client],
    );
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

  async markUsed(client: string, key: string, at: string): Promise<void> {
    await this.db.run('UPDATE images SET used_at = COALESCE(used_at, $1) WHERE key = $2 AND client = $3', [at, key, client]);
  }

  async isEnrolled(client: string, key: string): Promise<boolean> {
    const row = await this.db.row<{ user_id: string | null }>('SELECT user_id FROM images WHERE key = $1 AND client = $2', [key, client]);
    return row?.user_id != null;
  }

  async original(client: string, key: string): Promise<Buffer | undefined> {
    const row = await this.db.row<{ original: Buffer }>('SELECT original FROM images WHERE key = $1 AND client = $2', [key, client]);
    return row && this.sealer.open(row.original, imagePlace(key, 'original'));
  }

  async croppedOfUsed(client: string, key: string): Promise<Buffer | undefined> {
    const row = await this.db.row<{ cropped: Buffer | null }>('SELECT cropped FROM images WHERE key = $1 AND client = $2 AND used_at IS NOT NULL', [
      key,
      client,
    ]);
    return row?.cropped ? this.sealer.open(row.cropped, imagePlace(key, 'cropped')) : undefined;
  }

  async eraseUnenrolledBefore(cutoff: Date): Promise<number> {
    // created_at is ISO 8601 to the second, which orders as text (in the "C" collation).
    const before = cutoff.toISOString().replace(/\.\d{3}Z$/, 'Z');
    const erased = await this.db.run('DELETE FROM images WHERE user_id IS NULL AND created_at < $1', [before]);
    if (erased > 0) await this.db.vacuum(['images']);
    return erased;
  }
}
