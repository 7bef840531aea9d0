import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The first bytes of a sealed blob: a mark, then the format's version byte. */
const MARK = Buffer.from('FGE');
/** The first format, sealed without associated data; read only by `reseal` (encrypt-existing). */
const UNBOUND = 0x31;
/** Sealed with the blob's place (table, row, column) as associated data. */
const BOUND = 0x32;
const HEADER_BYTES = MARK.length + 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** A random 32-byte key has about 30 distinct byte values; fewer than this means it was not drawn at random. */
const MIN_DISTINCT_KEY_BYTES = 16;

/** Where a blob is stored. Sealing binds it there: a sealed blob copied to another row or column does not open. */
export interface BlobPlace {
  table: string;
  row: string | number;
  column: string;
}

const nameOf = (place: BlobPlace) => `${place.table}:${place.row}:${place.column}`;

/** A stored blob that cannot be read as it is. Its message names the place, never the data. */
class BlobError extends Error {
  constructor(place: BlobPlace, problem: string) {
    super(`${nameOf(place)} ${problem}`);
  }
}

type Format = 'plain' | 'unbound' | 'bound';

function formatOf(stored: Buffer): Format {
  if (stored.length < HEADER_BYTES + IV_BYTES + TAG_BYTES || !stored.subarray(0, MARK.length).equals(MARK)) return 'plain';
  if (stored[MARK.length] === BOUND) return 'bound';
  return stored[MARK.length] === UNBOUND ? 'unbound' : 'plain';
}

/**
 * The key as 64 hex digits or as standard base64 of exactly 32 bytes, nothing looser (Buffer's own
 * base64 decoding skips what it does not know, so a mistyped key would become another key).
 */
function decodeKey(text: string): Buffer {
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/]{43}=$/.test(text) && Buffer.from(text, 'base64').toString('base64') === text) key = Buffer.from(text, 'base64');
  if (key?.length !== KEY_BYTES) {
    throw new Error('FACEGATE_ENCRYPTION_KEY must be 32 bytes written as 64 hex digits or as 44 characters of standard base64 (openssl rand -base64 32)');
  }
  const distinct = new Set(key).size;
  if (distinct < MIN_DISTINCT_KEY_BYTES) {
    throw new Error(`FACEGATE_ENCRYPTION_KEY is too weak (${distinct} distinct byte values, at least ${MIN_DISTINCT_KEY_BYTES}): make one with openssl rand -base64 32`);
  }
  return key;
}

/**
 * Encrypts biometric blobs at rest with AES-256-GCM when a key is given, and passes them through
 * otherwise. A sealed blob is MARK | version | IV | tag | ciphertext, each with its own random IV
 * and its place as associated data. With a key, only such blobs are read: a blob in clear or in the
 * first format is refused until `npx facegate encrypt-existing` has resealed it.
 */
export class Sealer {
  private constructor(private readonly key: Buffer | undefined) {}

  static plain(): Sealer {
    return new Sealer(undefined);
  }

  /**
   * From the environment's FACEGATE_ENCRYPTION_KEY, which is removed from it at once so that no child
   * process inherits it; without one, a sealer that stores in clear.
   */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): Sealer {
    const text = env.FACEGATE_ENCRYPTION_KEY;
    delete env.FACEGATE_ENCRYPTION_KEY;
    return text ? Sealer.fromKeyText(text) : Sealer.plain();
  }

  static fromKeyText(text: string): Sealer {
    return new Sealer(decodeKey(text));
  }

  get encrypts(): boolean {
    return this.key !== undefined;
  }

  seal(plain: Buffer, place: BlobPlace): Buffer {
    if (!this.key) return plain;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(nameOf(place)));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([MARK, Buffer.of(BOUND), iv, cipher.getAuthTag(), body]);
  }

  open(stored: Buffer, place: BlobPlace): Buffer {
    const format = formatOf(stored);
    if (!this.key) {
      if (format === 'plain') return stored;
      throw new BlobError(place, 'is encrypted: set FACEGATE_ENCRYPTION_KEY to read it');
    }
    if (format === 'plain') throw new BlobError(place, 'is stored in clear although FACEGATE_ENCRYPTION_KEY is set: run npx facegate encrypt-existing');
    if (format === 'unbound') throw new BlobError(place, 'is sealed in the first format, bound to no row: run npx facegate encrypt-existing');
    return this.decrypt(this.key, stored, place, Buffer.from(nameOf(place)));
  }

  /**
   * For encrypt-existing: the blob sealed in the current format, or undefined when it already is
   * (after checking that it opens with this key, so that a store is never sealed under two keys).
   */
  reseal(stored: Buffer, place: BlobPlace): Buffer | undefined {
    if (!this.key) throw new Error('FACEGATE_ENCRYPTION_KEY is not set: there is nothing to encrypt with');
    const format = formatOf(stored);
    if (format === 'bound') {
      this.open(stored, place);
      return undefined;
    }
    return this.seal(format === 'unbound' ? this.decrypt(this.key, stored, place) : stored, place);
  }

  private decrypt(key: Buffer, stored: Buffer, place: BlobPlace, associated?: Buffer): Buffer {
    const iv = stored.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
    const tag = stored.subarray(HEADER_BYTES + IV_BYTES, HEADER_BYTES + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    if (associated) decipher.setAAD(associated);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(stored.subarray(HEADER_BYTES + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new BlobError(place, 'does not open: it was sealed with another key, for another row, or altered');
    }
  }
}
