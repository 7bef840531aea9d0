import type { ScanConfig } from '../config';
import { sniffFormat } from '../pipeline/decode';
import type { UploadedFile } from '../store/scans';
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

const OVERSIZE: ArchiveErrorCode[] = ['too_many_entries', 'entry_too_large', 'too_large'];

const listed = (names: string[]) => names.slice(0, 5).map((n) => `'${n}'`).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');

/**
 * The images of an upload, in order, each zip archive replaced by the files inside it. Refuses
 * the whole upload when it holds no image, a file that is neither JPEG nor PNG, an image above the
 * size limit, more files than allowed, or an archive that breaks the archive rules.
 */
export async function imagesOfUpload(parts: UploadedFile[], limits: ScanConfig & { maxImageBytes: number }): Promise<UploadedFile[]> {
  if (parts.length === 0) throw new IntakeError(400, 'no_files', 'No file was uploaded: send images (JPEG or PNG) or zip archives of them as multipart form files.');
  const files: UploadedFile[] = [];
  for (const part of parts) {
    if (!isZip(part.bytes)) {
      files.push(part);
      continue;
    }
    const inside = await filesInZip(part.bytes, {
      maxEntries: limits.maxFiles,
      maxEntryBytes: limits.maxImageBytes,
      maxTotalBytes: limits.maxExtractedBytes,
      maxCompressionRatio: limits.maxCompressionRatio,
    }).catch((error: unknown) => {
      if (!(error instanceof ArchiveError)) throw error;
      throw new IntakeError(OVERSIZE.includes(error.code) ? 413 : 400, error.code, `Archive '${part.name}': ${error.message}`);
    });
    files.push(...inside.map((entry) => ({ name: `${part.name}/${entry.name}`, bytes: entry.bytes })));
  }
  if (files.length === 0) throw new IntakeError(400, 'no_images', 'The upload holds no image: its archives are empty.');
  if (files.length > limits.maxFiles) {
    throw new IntakeError(413, 'too_many_files', `The upload holds ${files.length} images; one scan takes at most ${limits.maxFiles}.`);
  }
  const notImages = files.filter((f) => !sniffFormat(f.bytes)).map((f) => f.name);
  if (notImages.length > 0) throw new IntakeError(400, 'not_an_image', `Only JPEG and PNG images can be scanned; not images: ${listed(notImages)}.`);
  const tooLarge = files.filter((f) => f.bytes.length > limits.maxImageBytes).map((f) => f.name);
  if (tooLarge.length > 0) {
    throw new IntakeError(413, 'image_too_large', `Images larger than ${limits.maxImageBytes} bytes: ${listed(tooLarge)}.`);
  }
  return files;
}
