import { createCipheriv, randomBytes } from 'node:crypto';

/** A strong key (random bytes) for tests that encrypt at rest, as 64 hex digits. */
export const TEST_ENCRYPTION_KEY = 'd4570d052e4275a81aaa91b703fc65bb844e6715d47986606440c0933d9a2d27';

/** `plain` sealed in the first format ('FGE1', no associated data), as versions before issue 19 wrote it. */
export function firstFormatSealed(plain: Buffer, keyHex = TEST_ENCRYPTION_KEY): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.from('FGE1'), iv, cipher.getAuthTag(), body]);
}
