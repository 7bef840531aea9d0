import { type ImageMetadata, type ImageStore, imagePlace, type NewImage } from '../contract';
import { IMAGE_COLUMNS, IMAGE_METADATA_COLUMNS, type ImageMetadataRow, imageMetadataOf, imageRowValues } from '../rows';
import type { Sealer } from '../sealer';
import type { Database } from './database';

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
      `INSERT INTO images (${IMAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      imageRowValues(client, image, this.sealer, owner),
    );
  }

  async metadata(client: string, key: string): Promise<ImageMetadata | undefined> {
    const row = await this.db.row<ImageMetadataRow>(`SELECT ${IMAGE_METADATA_COLUMNS} FROM images WHERE key = $1 AND client = $2`, [key, client]);
    return row && imageMetadataOf(row);
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
