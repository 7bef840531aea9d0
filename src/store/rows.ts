/** Row shapes and encodings the SQLite and PostgreSQL backends share, so that both answer alike. */
import { type ImageMetadata, imagePlace, type NewImage, type ScanTask, type TaskStatus, type UserMetadata } from './contract';
import type { Sealer } from './sealer';

/** An embedding as stored: its float32 values' bytes (sealed on top of that). */
export const toBlob = (embedding: Float32Array): Buffer => Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength);
/** The embedding of a stored blob, in a copy that owns its memory. */
export const fromBlob = (blob: Buffer): Float32Array => {
  const copy = Buffer.from(blob);
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
};

/** A tasks row as both backends select it. */
export interface TaskRow {
  id: string;
  client: string;
  collection: string;
  status: TaskStatus;
  total: number;
  processed: number;
  failure: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  started_processed: number;
  finished_at: string | null;
}

export const taskOf = (row: TaskRow): ScanTask => ({
  id: row.id,
  client: row.client,
  collection: row.collection,
  status: row.status,
  total: row.total,
  processed: row.processed,
  failure: row.failure,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  startedAt: row.started_at,
  startedProcessed: row.started_processed,
  finishedAt: row.finished_at,
});

/** The images columns an insert fills, in the order of `imageRowValues`. */
export const IMAGE_COLUMNS = 'key, client, user_id, content_type, file_size, width_px, height_px, original, cropped, analysis, created_at, used_at';

/** An image row's values for IMAGE_COLUMNS: its blobs sealed to their place, owned by `owner` and already used when given. */
export function imageRowValues(client: string, image: NewImage, sealer: Sealer, owner?: { userId: number; usedAt: string }): unknown[] {
  return [
    image.key,
    client,
    owner?.userId ?? null,
    image.contentType,
    image.fileSize,
    image.width,
    image.height,
    sealer.seal(image.original, imagePlace(image.key, 'original')),
    sealer.seal(image.cropped, imagePlace(image.key, 'cropped')),
    image.analysis,
    image.createdAt,
    owner?.usedAt ?? null,
  ];
}

/** The images columns an image's metadata is read from. */
export const IMAGE_METADATA_COLUMNS = 'key, content_type, file_size, width_px, height_px, created_at, used_at';

export interface ImageMetadataRow {
  key: string;
  content_type: string;
  file_size: number;
  width_px: number;
  height_px: number;
  created_at: string;
  used_at: string | null;
}

export const imageMetadataOf = (row: ImageMetadataRow): ImageMetadata => ({
  key: row.key,
  contentType: row.content_type,
  fileSize: row.file_size,
  width: row.width_px,
  height: row.height_px,
  createdAt: row.created_at,
  usedAt: row.used_at,
});

/** A user's metadata from its row, its templates' rows (in id order) and its images' keys. */
export const userMetadataOf = (
  user: { username: string; created_at: string },
  templates: { model: string; model_version: string; created_at: string }[],
  images: { key: string }[],
): UserMetadata => ({
  username: user.username,
  createdAt: user.created_at,
  templates: templates.map((t) => ({ model: t.model, modelVersion: t.model_version, createdAt: t.created_at })),
  imageKeys: images.map((i) => i.key),
});
