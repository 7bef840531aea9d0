import type { Readable } from 'node:stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';

export interface ArchiveLimits {
  /** Most file entries read from one archive. */
  maxEntries: number;
  /** Largest uncompressed size of one entry, in bytes. */
  maxEntryBytes: number;
  /** Largest uncompressed size of all entries together, in bytes. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed size ratio of one entry: above it the entry is taken for a zip bomb. */
  maxCompressionRatio: number;
}

export interface ArchivedFile {
  name: string;
  bytes: Buffer;
}

export type ArchiveErrorCode =
  | 'unsafe_path'
  | 'too_many_entries'
  | 'entry_too_large'
  | 'too_large'
  | 'zip_bomb'
  | 'encrypted'
  | 'corrupt';

/** A client-side archive problem; the message names the entry and the limit, for the API client. */
export class ArchiveError extends Error {
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const LOCAL_FILE_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const EMPTY_ARCHIVE_MAGIC = [0x50, 0x4b, 0x05, 0x06];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** True when the bytes start with a zip local-file or empty-archive signature (PK\x03\x04 or PK\x05\x06). */
export function isZip(bytes: Uint8Array): boolean {
  return startsWith(bytes, LOCAL_FILE_MAGIC) || startsWith(bytes, EMPTY_ARCHIVE_MAGIC);
}

/**
 * Every file in the archive at `path` (directories and macOS/hidden metadata skipped), in archive
 * order, names as stored (forward slashes): one at a time, so that only one entry is ever held in
 * memory. The archive is closed when the loop ends, whether it read everything, stopped early or failed.
 */
export async function* filesInZip(path: string, limits: ArchiveLimits): AsyncGenerator<ArchivedFile> {
  let zipfile: ZipFile | undefined;
  try {
    // decodeStrings: false stops yauzl validating names itself, so that our own check (and message) applies.
    zipfile = await yauzl.openPromise(path, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true });
    let fileCount = 0;
    let totalBytes = 0;
    for await (const entry of zipfile.eachEntry()) {
      const name = entryName(entry);
      assertSafePath(name);
      if (isSkipped(name)) continue;
      fileCount += 1;
      totalBytes += entry.uncompressedSize;
      assertWithinLimits(entry, name, { fileCount, totalBytes }, limits);
      yield { name, bytes: await readEntry(zipfile, entry, name) };
    }
  } catch (error) {
    // Errors that are not ours come from yauzl reading the central directory.
    throw error instanceof ArchiveError ? error : new ArchiveError('corrupt', 'The zip archive is damaged or truncated.');
  } finally {
    zipfile?.close();
  }
}

/** The name as stored: UTF-8 or CP437 by the entry's flag, backslashes kept so that assertSafePath sees them. */
function entryName(entry: Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

function assertSafePath(name: string): void {
  const reason = unsafePathReason(name);
  if (reason) throw new ArchiveError('unsafe_path', `Zip entry '${name}' ${reason}.`);
}

function unsafePathReason(name: string): string | undefined {
  if (/^([a-zA-Z]:|[\\/])/.test(name)) return 'has an absolute path';
  if (name.split(/[\\/]/).includes('..')) return 'points outside the archive';
  if (name.includes('\\')) return 'has a backslash in its name; zip paths use forward slashes';
  return undefined;
}

function isSkipped(name: string): boolean {
  const baseName = name.slice(name.lastIndexOf('/') + 1);
  return name.endsWith('/') || name.startsWith('__MACOSX/') || baseName.startsWith('.');
}

/** Refuses the entry by what its headers declare, before a byte of it is inflated. */
function assertWithinLimits(entry: Entry, name: string, sofar: { fileCount: number; totalBytes: number }, limits: ArchiveLimits): void {
  const size = entry.uncompressedSize;
  if (entry.isEncrypted()) throw new ArchiveError('encrypted', `Zip entry '${name}' is encrypted; upload an archive without a password.`);
  if (sofar.fileCount > limits.maxEntries) {
    throw new ArchiveError('too_many_entries', `The zip archive holds more files than the limit of ${limits.maxEntries}.`);
  }
  if (size > limits.maxEntryBytes) {
    throw new ArchiveError('entry_too_large', `Zip entry '${name}' is ${size} bytes unpacked; the limit is ${limits.maxEntryBytes}.`);
  }
  if (sofar.totalBytes > limits.maxTotalBytes) {
    throw new ArchiveError('too_large', `Zip entry '${name}' brings the archive to ${sofar.totalBytes} bytes unpacked; the limit is ${limits.maxTotalBytes}.`);
  }
  const ratio = entry.compressedSize > 0 ? size / entry.compressedSize : 0;
  if (ratio > limits.maxCompressionRatio) {
    throw new ArchiveError('zip_bomb', `Zip entry '${name}' unpacks to ${Math.round(ratio)} times its packed size; the limit is ${limits.maxCompressionRatio} times.`);
  }
}

/** The entry's bytes, inflated; by now its declared size is within maxEntryBytes, so that is the bound to hold it to. */
async function readEntry(zipfile: ZipFile, entry: Entry, name: string): Promise<Buffer> {
  const declared = entry.uncompressedSize;
  let stream: Readable | undefined;
  try {
    stream = await zipfile.openReadStreamPromise(entry);
    const chunks: Buffer[] = [];
    let produced = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      produced += chunk.length;
      // yauzl's validateEntrySizes stops this first; counting here keeps the guard whatever that option says.
      if (produced > declared) throw inflatesPastDeclaredSize(name, declared);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, produced);
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    if (/^too many bytes in the stream/.test((error as Error).message)) throw inflatesPastDeclaredSize(name, declared);
    throw new ArchiveError('corrupt', `Zip entry '${name}' is damaged or cannot be unpacked.`);
  } finally {
    stream?.destroy();
  }
}

function inflatesPastDeclaredSize(name: string, declared: number): ArchiveError {
  return new ArchiveError('zip_bomb', `Zip entry '${name}' unpacks to more than the ${declared} bytes it declares.`);
}
