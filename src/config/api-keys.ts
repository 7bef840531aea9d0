import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AuthConfig, ConfigError } from '.';

export type KeyRole = 'user' | 'admin';

/** Who sent a request: the client whose data it may touch, and with which role. */
export interface Caller {
  clientId: string;
  role: KeyRole;
  /** An admin key configured outside any client: it acts on every client's data. */
  allClients: boolean;
}

interface KeyEntry extends Caller {
  digest: Buffer;
}

/** SHA-256 digests of the accepted keys, each with the caller it stands for; the keys themselves are not kept. */
export interface Keyring {
  entries: KeyEntry[];
  /** The client of the top-level keys, of the generated key, and of requests to routes configured without keys. */
  defaultClient: string;
  /** Set when no user key was configured and the key in this file (generated at first start) is used, beside any configured admin keys. */
  keyFile?: string;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** Reads a generated secret (an API key, the log's identity secret), creating it (mode 0600) when the file does not exist yet. */
export function generatedSecret(path: string): string {
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length < 16) throw new Error(`secret file ${path} holds no usable secret; delete it to generate a new one`);
    return key;
  }
  const key = randomBytes(32).toString('base64url');
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/**
 * Takes the configured keys out of `auth` (emptying its lists) and returns their digests, each
 * with its client: top-level `apiKeys` belong to the default client, top-level `adminKeys` act on
 * every client, and each entry of `clients` holds that client's user and admin keys. A key given
 * twice is refused (it could not say whose it is). With no user key configured (admin keys alone
 * do not count: configuring one to try the admin routes must not lock out the key the examples
 * use), the key in the data folder's key file is a user key of the default client, generated on
 * first start.
 */
export function createKeyring(auth: AuthConfig, dataDir: string): Keyring {
  const entries: KeyEntry[] = [];
  const add = (keys: string[], caller: Caller) => {
    for (const key of keys.splice(0)) entries.push({ ...caller, digest: digest(key) });
  };
  const defaultClient = auth.defaultClient;
  add(auth.apiKeys, { clientId: defaultClient, role: 'user', allClients: false });
  add(auth.adminKeys, { clientId: defaultClient, role: 'admin', allClients: true });
  for (const [clientId, keys] of Object.entries(auth.clients)) {
    add(keys.apiKeys, { clientId, role: 'user', allClients: false });
    add(keys.adminKeys ?? [], { clientId, role: 'admin', allClients: false });
  }
  const seen = new Set<string>();
  for (const { digest: d, clientId } of entries) {
    const hex = d.toString('hex');
    if (seen.has(hex)) throw new ConfigError(`invalid configuration: a key of client "${clientId}" is configured more than once`);
    seen.add(hex);
  }
  if (entries.some((entry) => entry.role === 'user')) return { entries, defaultClient };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyFile = join(dataDir, auth.keyFile);
  entries.push({ clientId: defaultClient, role: 'user', allClients: false, digest: digest(generatedSecret(keyFile)) });
  return { entries, defaultClient, keyFile };
}

/** The caller a presented key stands for, or undefined when it is no configured key. Compares every digest, in constant time. */
export function callerOf(keyring: Keyring, presented: string): Caller | undefined {
  const candidate = digest(presented);
  let found: KeyEntry | undefined;
  for (const entry of keyring.entries) {
    if (timingSafeEqual(entry.digest, candidate)) found = entry;
  }
  return found && { clientId: found.clientId, role: found.role, allClients: found.allClients };
}

/** Whether `presented` is a key of `role` (admin keys also open user routes). */
export function keyMatches(keyring: Keyring, role: KeyRole, presented: string): boolean {
  const caller = callerOf(keyring, presented);
  return caller !== undefined && (role === 'user' || caller.role === 'admin');
}
