import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('FGE1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts biometric blobs at rest with AES-256-GCM when a key is given, and passes them through
 * otherwise. A sealed blob is MAGIC | IV | tag | ciphertext; each has its own random IV.
 */
export class Sealer {
  private constructor(private readonly key: Buffer | undefined) {}

  static plain(): Sealer {
    return new Sealer(undefined);
  }

  /**
   * From the environment's FACEGATE_ENCRYPTION_KEY, which is removed from it at once so that no child
   * process (ffmpeg) inherits it; without one, a sealer that stores in clear.
   */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): Sealer {
    const text = env.FACEGATE_ENCRYPTION_KEY;
    delete env.FACEGATE_ENCRYPTION_KEY;
    return text ? Sealer.fromKeyText(text) : Sealer.plain();
  }

  /** From FACEGATE_ENCRYPTION_KEY: 64 hex digits or base64 of 32 bytes. */
  static fromKeyText(text: string): Sealer {
    const trimmed = text.trim();
    const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
    if (key.length !== 32) throw new Error('FACEGATE_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or in base64');
    return new Sealer(key);
  }

  get encrypts(): boolean {
    return this.key !== undefined;
  }

  seal(plain: Buffer): Buffer {
    if (!this.key) return plain;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
  }

  open(stored: Buffer): Buffer {
    const sealed = stored.length >= MAGIC.length + IV_BYTES + TAG_BYTES && stored.subarray(0, MAGIC.length).equals(MAGIC);
    if (!sealed) return stored;
    if (!this.key) throw new Error('stored data is encrypted: set FACEGATE_ENCRYPTION_KEY to read it');
    const iv = stored.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
    const tag = stored.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(stored.subarray(MAGIC.length + IV_BYTES + TAG_BYTES)), decipher.final()]);
  }
}
