import { deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  /** Stored as given, UTF-8 (flag bit 11): may be forged ('../x', '/x', 'C:\\x'). A directory ends with '/'. */
  name: string;
  /** The entry's real, uncompressed content. */
  data: Buffer;
  /** Uncompressed size written in both headers; defaults to data.length. Set it to lie about the size. */
  declaredSize?: number;
  /**
   * Sets the encryption flag (bit 0) and prefixes the payload with a 12-byte traditional-encryption header.
   * The data itself is not encrypted: this forges an entry that readers must refuse.
   */
  encrypted?: boolean;
  /** 0 stores the data, 8 (the default) deflates it. */
  method?: 0 | 8;
}

const LOCAL_FILE_HEADER = 0x04034b50;
const CENTRAL_DIRECTORY_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const VERSION_2_0 = 20;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8_NAME = 0x0800;
const TRADITIONAL_ENCRYPTION_HEADER_BYTES = 12;
// 1980-01-01 00:00, the earliest DOS date.
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 as zip uses it; zlib.crc32 only exists from Node 20.15 on. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface PackedEntry {
  name: Buffer;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  declaredSize: number;
  payload: Buffer;
}

function pack(spec: ZipEntrySpec): PackedEntry {
  const method = spec.method ?? 8;
  const compressed = method === 8 ? deflateRawSync(spec.data) : spec.data;
  const payload = spec.encrypted ? Buffer.concat([Buffer.alloc(TRADITIONAL_ENCRYPTION_HEADER_BYTES), compressed]) : compressed;
  return {
    name: Buffer.from(spec.name, 'utf8'),
    flags: FLAG_UTF8_NAME | (spec.encrypted ? FLAG_ENCRYPTED : 0),
    method,
    crc: crc32(spec.data),
    compressedSize: payload.length,
    declaredSize: spec.declaredSize ?? spec.data.length,
    payload,
  };
}

function localFileHeader(entry: PackedEntry): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(LOCAL_FILE_HEADER, 0);
  header.writeUInt16LE(VERSION_2_0, 4);
  header.writeUInt16LE(entry.flags, 6);
  header.writeUInt16LE(entry.method, 8);
  header.writeUInt16LE(DOS_TIME, 10);
  header.writeUInt16LE(DOS_DATE, 12);
  header.writeUInt32LE(entry.crc, 14);
  header.writeUInt32LE(entry.compressedSize, 18);
  header.writeUInt32LE(entry.declaredSize, 22);
  header.writeUInt16LE(entry.name.length, 26);
  header.writeUInt16LE(0, 28); // extra field length
  return Buffer.concat([header, entry.name]);
}

function centralDirectoryHeader(entry: PackedEntry, localHeaderOffset: number): Buffer {
  const header = Buffer.alloc(46);
  header.writeUInt32LE(CENTRAL_DIRECTORY_HEADER, 0);
  header.writeUInt16LE(VERSION_2_0, 4); // made by
  header.writeUInt16LE(VERSION_2_0, 6); // needed to extract
  header.writeUInt16LE(entry.flags, 8);
  header.writeUInt16LE(entry.method, 10);
  header.writeUInt16LE(DOS_TIME, 12);
  header.writeUInt16LE(DOS_DATE, 14);
  header.writeUInt32LE(entry.crc, 16);
  header.writeUInt32LE(entry.compressedSize, 20);
  header.writeUInt32LE(entry.declaredSize, 24);
  header.writeUInt16LE(entry.name.length, 28);
  // 30 extra field length, 32 comment length, 34 disk, 36 internal and 38 external attributes: all 0.
  header.writeUInt32LE(localHeaderOffset, 42);
  return Buffer.concat([header, entry.name]);
}

function endOfCentralDirectory(entryCount: number, directorySize: number, directoryOffset: number): Buffer {
  const record = Buffer.alloc(22);
  record.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  // 4 this disk, 6 the directory's disk: both 0.
  record.writeUInt16LE(entryCount, 8);
  record.writeUInt16LE(entryCount, 10);
  record.writeUInt32LE(directorySize, 12);
  record.writeUInt32LE(directoryOffset, 16);
  // 20 comment length: 0.
  return record;
}

/**
 * The bytes of a zip archive (no zip64, no data descriptors, no comments) holding the entries in
 * order. Sizes, names and the encryption flag are written as the specs say, even when they lie, so
 * that tests can forge hostile archives; `zipOf([])` is the 22-byte empty archive.
 */
export function zipOf(entries: ZipEntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const entry of entries.map(pack)) {
    directory.push(centralDirectoryHeader(entry, offset));
    const local = Buffer.concat([localFileHeader(entry), entry.payload]);
    parts.push(local);
    offset += local.length;
  }
  const directoryBytes = Buffer.concat(directory);
  return Buffer.concat([...parts, directoryBytes, endOfCentralDirectory(entries.length, directoryBytes.length, offset)]);
}
