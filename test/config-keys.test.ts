import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuthConfig, loadConfig } from '../src/config';
import { presentedKey } from '../src/api/auth';
import { callerOf, createKeyring, keyMatches } from '../src/config/api-keys';

const auth = (apiKeys: string[] = [], adminKeys: string[] = []): AuthConfig => ({ apiKeys, adminKeys, defaultClient: 'default', clients: {}, keyFile: 'api-key', required: { nodeflux: true, qitech: true, enroll: true, scan: true } });
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

describe('clients', () => {
  const clientAuth = (): AuthConfig => ({
    ...auth(['default-user-key-0123'], ['global-admin-key-0123']),
    clients: { alpha: { apiKeys: ['alpha-user-key-0123'], adminKeys: ['alpha-admin-key-0123'] }, beta: { apiKeys: ['beta-user-key-01234'] } },
  });

  it('gives every key its client and role; top-level admin keys act on every client', () => {
    const keyring = createKeyring(clientAuth(), tempDir());
    expect(callerOf(keyring, 'default-user-key-0123')).toEqual({ clientId: 'default', role: 'user', allClients: false });
    expect(callerOf(keyring, 'global-admin-key-0123')).toEqual({ clientId: 'default', role: 'admin', allClients: true });
    expect(callerOf(keyring, 'alpha-user-key-0123')).toEqual({ clientId: 'alpha', role: 'user', allClients: false });
    expect(callerOf(keyring, 'alpha-admin-key-0123')).toEqual({ clientId: 'alpha', role: 'admin', allClients: false });
    expect(callerOf(keyring, 'beta-user-key-01234')).toEqual({ clientId: 'beta', role: 'user', allClients: false });
    expect(callerOf(keyring, 'gamma-user-key-0123')).toBeUndefined();
  });

  it('refuses a key configured for two clients', () => {
    const config = clientAuth();
    config.clients.beta.apiKeys.push('alpha-user-key-0123');
    expect(() => createKeyring(config, tempDir())).toThrow('configured more than once');
  });

  it('refuses client ids that are not plain lower-case names', () => {
    const file = join(tempDir(), 'clients.json');
    writeFileSync(file, JSON.stringify({ auth: { clients: { 'Bad Id': { apiKeys: ['some-user-key-01234'] } } } }));
    expect(() => loadConfig({ FACEGATE_CONFIG: file })).toThrow(/\/auth\/clients/);
  });
});

describe('presented keys', () => {
  it('takes the first header that is not empty, with or without Bearer', () => {
    expect(presentedKey('', 'from-x-api-key')).toBe('from-x-api-key');
    expect(presentedKey('   ', 'from-x-api-key')).toBe('from-x-api-key');
    expect(presentedKey('Bearer ', 'from-x-api-key')).toBe('from-x-api-key');
    expect(presentedKey('Bearer from-authorization', 'from-x-api-key')).toBe('from-authorization');
    expect(presentedKey(undefined, undefined)).toBeUndefined();
  });
});
