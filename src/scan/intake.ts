import { readFileSync } from 'node:fs';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScanConfig } from '../config';
import { ImageError, proveImage, sniffFormat } from '../pipeline/decode';
import type { UploadedFile } from '../store';
import { ArchiveError, type ArchiveErrorCode, filesInZip, isZip } from './archive';

/** An upload that cannot become a scan; the message names the files at fault. */
export class IntakeError extends Error {
  constructor(
    readonly status: 400 | 413,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A file part of an upload as received: written whole to `path`, in the upload's staging folder. */
export interface ReceivedPart {
  name: string;
  path: string;
  size: number;
}

/** An image that passed the intake, waiting in the staging folder to be stored. */
export interface StagedImage {
  name: string;
  path: string;
}

export type IntakeLimits = Pick<ScanConfig, 'maxFiles' | 'maxExtractedBytes' | 'maxCompressionRatio'> & {
  maxImageBytes: number;
  maxImagePixels: number;
};

const OVERSIZE: ArchiveErrorCode[] = ['too_many_entries', 'entry_too_large', 'too_large'];

const listed = (names: string[]) => names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');

/** Why a file is refused: it is not a whole image (400), or it is one above the limits (413). */
type Refusal = { kind: 'not_an_image' | 'too_large'; reason: string };

async function refusalOf(bytes: Buffer, limits: IntakeLimits): Promise<Refusal | undefined> {
  const format = sniffFormat(bytes);
  if (!format) return { kind: 'not_an_image', reason: 'neither JPEG nor PNG' };
  try {
    await proveImage(bytes, { maxBytes: limits.maxImageBytes, maxPixels: limits.maxImagePixels });
    return undefined;
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    if (error.code === 'too_many_pixels') return { kind: 'too_large', reason: `more than ${limits.maxImagePixels} pixels` };
    if (error.code === 'too_large') return { kind: 'too_large', reason: `${bytes.length} bytes` };
    return { kind: 'not_an_image', reason: `a damaged or truncated ${format.toUpperCase()}` };
  }
}

async function startsAsZip(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(4), 0, 4, 0);
    return isZip(buffer.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}

/**
 * Checks every image of an upload, each zip archive replaced by the files inside it, and stages
 * those that pass in `folder` (a loose part is already there). Every file is decoded through to its
 * last byte (`proveImage`) before anything is kept, one file in memory at a time. Refuses the
 * whole upload when it holds no image, a file that is not a whole JPEG or PNG, an image above the
 * size or pixel limits, more files or unpacked bytes than allowed, or an archive that breaks the
 * archive rules; the message names the files at fault.
 */
export async function stageImagesOfUpload(parts: ReceivedPart[], folder: string, limits: IntakeLimits): Promise<StagedImage[]> {
  if (parts.length === 0) throw new IntakeError(400, 'no_files', 'No file was uploaded: send images (JPEG or PNG) or zip archives of them as multipart form files.');
  const staged: StagedImage[] = [];
  const refused = { not_an_image: [] as string[], too_large: [] as string[] };
  let fileCount = 0;
  let totalBytes = 0;

  const count = (name: string, bytes: number) => {
    fileCount += 1;
    totalBytes += bytes;
    if (fileCount > limits.maxFiles) throw new IntakeError(413, 'too_many_files', `The upload holds more than ${limits.maxFiles} images, the most one scan takes.`);
    if (totalBytes > limits.maxExtractedBytes) {
      throw new IntakeError(413, 'too_large', `'${name}' brings the upload to ${totalBytes} bytes of images; the limit is ${limits.maxExtractedBytes}.`);
    }
  };
  const take = async (name: string, bytes: Buffer, stagedAt?: string) => {
    const refusal = await refusalOf(bytes, limits);
    if (refusal) {
      refused[refusal.kind].push(`'${name}' (${refusal.reason})`);
      return;
    }
    const path = stagedAt ?? join(folder, `image-${staged.length}`);
    if (!stagedAt) await writeFile(path, bytes, { flag: 'wx', mode: 0o600 });
    staged.push({ name, path });
  };

  for (const part of parts) {
    if (await startsAsZip(part.path)) {
      const entries = filesInZip(part.path, {
        maxEntries: limits.maxFiles,
        maxEntryBytes: limits.maxImageBytes,
        maxTotalBytes: limits.maxExtractedBytes,
        maxCompressionRatio: limits.maxCompressionRatio,
      });
      try {
        for await (const entry of entries) {
          const name = `${part.name}/${entry.name}`;
          count(name, entry.bytes.length);
          await take(name, entry.bytes);
        }
      } catch (error) {
        if (!(error instanceof ArchiveError)) throw error;
        throw new IntakeError(OVERSIZE.includes(error.code) ? 413 : 400, error.code, `Archive '${part.name}': ${error.message}`);
      }
    } else {
      count(part.name, part.size);
      // A loose file above the image limit is refused by its size, unread.
      if (part.size > limits.maxImageBytes) refused.too_large.push(`'${part.name}' (${part.size} bytes)`);
      else await take(part.name, await readFile(part.path), part.path);
    }
  }

  if (refused.not_an_image.length > 0) {
    throw new IntakeError(400, 'not_an_image', `Only whole JPEG and PNG images can be scanned; these are not: ${listed(refused.not_an_image)}.`);
  }
  if (refused.too_large.length > 0) {
    throw new IntakeError(
      413,
      'image_too_large',
      `Images above the limits of ${limits.maxImageBytes} bytes and ${limits.maxImagePixels} pixels: ${listed(refused.too_large)}.`,
    );
  }
  if (staged.length === 0) throw new IntakeError(400, 'no_images', 'The upload holds no image: its archives are empty.');
  return staged;
}

/** The staged images with their bytes, read one at a time as the store takes them. */
export function* stagedFiles(images: StagedImage[]): Generator<UploadedFile> {
  for (const image of images) yield { name: image.name, bytes: readFileSync(image.path) };
}

/** One upload in intake (received, checked, stored) per client at a time. */
export class IntakePerClient {
  private readonly busy = new Set<string>();

  /** Claims the client's intake and returns the function that releases it; undefined while the client has one under way. */
  claim(clientId: string): (() => void) | undefined {
    if (this.busy.has(clientId)) return undefined;
    this.busy.add(clientId);
    return () => this.busy.delete(clientId);
  }
}
