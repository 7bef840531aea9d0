import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthConfig } from '.';

export type KeyRole = 'user' | 'admin';

/** SHA-256 digests of the accepted keys; the keys themselves are not kept. */
export interface Keyring {
  user: Buffer[];
  admin: Buffer[];
  /** Set when no key was configured and the key in this file (generated at first start) is used. */
  keyFile?: string;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** Reads the generated key, creating it (mode 0600) when the file does not exist yet. */
function generatedKey(path: string): string {
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length < 16) throw new Error(`API key file ${path} holds no usable key; delete it to generate a new one`);
    return key;
  }
  const key = randomBytes(32).toString('base64url');
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/**
 * Takes the configured keys out of `auth` (emptying its lists) and returns their digests. With no
 * key configured, the key in the data folder's key file is used, generated on first start.
 */
export function createKeyring(auth: AuthConfig, dataDir: string): Keyring {
  const user = auth.apiKeys.splice(0).map(digest);
  const admin = auth.adminKeys.splice(0).map(digest);
  if (user.length > 0 || admin.length > 0) return { user, admin };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyFile = join(dataDir, auth.keyFile);
  return { user: [digest(generatedKey(keyFile))], admin: [], keyFile };
}

/** Whether `presented` is a key of `role` (admin keys also open user routes). Compares every digest, in constant time. */
export function keyMatches(keyring: Keyring, role: KeyRole, presented: string): boolean {
  const candidate = digest(presented);
  const digests = role === 'admin' ? keyring.admin : [...keyring.user, ...keyring.admin];
  let found = false;
  for (const known of digests) found = timingSafeEqual(known, candidate) || found;
  return found;
}
