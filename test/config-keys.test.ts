import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuthConfig, loadConfig } from '../src/config';
import { createKeyring, keyMatches } from '../src/config/api-keys';

const auth = (apiKeys: string[] = [], adminKeys: string[] = []): AuthConfig => ({ apiKeys, adminKeys, keyFile: 'api-key', required: { nodeflux: true, qitech: true, enroll: true, scan: true } });
const tempDir = () => mkdtempSync(join(tmpdir(), 'facegate-keys-'));

describe('API keys', () => {
  it('reads comma-separated keys from the environment, added to the configured ones', () => {
    const config = loadConfig({ FACEGATE_API_KEYS: ' first-key-0123456789 , second-key-0123456789', FACEGATE_ADMIN_KEYS: 'admin-key-0123456789' });
    expect(config.auth.apiKeys).toEqual(['first-key-0123456789', 'second-key-0123456789']);
    expect(config.auth.adminKeys).toEqual(['admin-key-0123456789']);
  });

  it('refuses short keys at start-up, naming the variable but not the key', () => {
    expect(() => loadConfig({ FACEGATE_API_KEYS: 'short' })).toThrow('/auth/apiKeys/0 (from FACEGATE_API_KEYS) must NOT have fewer than 16 characters');
  });

  it('keeps digests only: the configured lists are emptied', () => {
    const config = auth(['user-key-0123456789'], ['admin-key-0123456789']);
    const keyring = createKeyring(config, tempDir());
    expect(config.apiKeys).toEqual([]);
    expect(config.adminKeys).toEqual([]);
    expect(JSON.stringify(keyring)).not.toContain('user-key');
    expect(keyring.keyFile).toBeUndefined();
  });

  it('matches user and admin keys by role; admin keys also open user routes', () => {
    const keyring = createKeyring(auth(['user-key-0123456789'], ['admin-key-0123456789']), tempDir());
    expect(keyMatches(keyring, 'user', 'user-key-0123456789')).toBe(true);
    expect(keyMatches(keyring, 'user', 'admin-key-0123456789')).toBe(true);
    expect(keyMatches(keyring, 'admin', 'user-key-0123456789')).toBe(false);
    expect(keyMatches(keyring, 'admin', 'admin-key-0123456789')).toBe(true);
    expect(keyMatches(keyring, 'user', 'user-key-012345678')).toBe(false);
  });

  it('generates a key into a 0600 file when none is configured, and reuses it on the next start', () => {
    const dir = tempDir();
    const first = createKeyring(auth(), dir);
    const file = join(dir, 'api-key');
    expect(first.keyFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, 'utf8').trim();
    expect(key.length).toBeGreaterThanOrEqual(32);
    expect(keyMatches(first, 'user', key)).toBe(true);
    const second = createKeyring(auth(), dir);
    expect(keyMatches(second, 'user', key)).toBe(true);
  });
});
