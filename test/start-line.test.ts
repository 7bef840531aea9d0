import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuthConfig, MetricsConfig } from '../src/config';
import { createKeyring, keyMatches } from '../src/config/api-keys';
import { serviceUrl, startLine } from '../src/start-line';

const auth = (apiKeys: string[] = [], adminKeys: string[] = [], clients: AuthConfig['clients'] = {}): AuthConfig => ({
  apiKeys,
  adminKeys,
  defaultClient: 'default',
  clients,
  keyFile: 'api-key',
  required: { nodeflux: true, qitech: true, enroll: true, scan: true },
});
const metrics: MetricsConfig = { port: null, host: '127.0.0.1', requireAdminKey: true };
const address = { address: '0.0.0.0', family: 'IPv4', port: 8080 };

describe('start line', () => {
  it('names the URL, /docs, the generated key file, encryption and metrics', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-start-'));
    const keyring = createKeyring(auth(), dir);
    const line = startLine({ address, keyring, encrypted: false, metrics });
    expect(line).toBe(
      `FaceGate listening on http://localhost:8080, docs at http://localhost:8080/docs; API key in ${dir}/api-key (KEY=$(cat ${dir}/api-key)), ` +
        'no admin key configured; data NOT encrypted at rest (set FACEGATE_ENCRYPTION_KEY); metrics at http://localhost:8080/metrics (admin key)',
    );
    expect(line).not.toContain(readFileSync(join(dir, 'api-key'), 'utf8').trim());
  });

  it('keeps the generated key working beside configured admin keys, and says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-start-'));
    const keyring = createKeyring(auth([], ['admin-key-0123456789']), dir);
    const generated = readFileSync(join(dir, 'api-key'), 'utf8').trim();
    expect(keyMatches(keyring, 'user', generated)).toBe(true);
    expect(keyMatches(keyring, 'admin', generated)).toBe(false);
    expect(keyMatches(keyring, 'admin', 'admin-key-0123456789')).toBe(true);
    const line = startLine({ address, keyring, encrypted: true, metrics: { port: 9464, host: '127.0.0.1', requireAdminKey: false } });
    expect(line).toContain(`API key in ${dir}/api-key (KEY=$(cat ${dir}/api-key)), admin keys from config; data encrypted at rest; metrics at http://127.0.0.1:9464/metrics`);
  });

  it('says plainly that the generated key is off once user keys are configured, at the top level or for a client', () => {
    for (const config of [auth(['user-key-0123456789']), auth([], [], { alpha: { apiKeys: ['alpha-key-0123456789'] } })]) {
      const keyring = createKeyring(config, mkdtempSync(join(tmpdir(), 'facegate-start-')));
      expect(keyring.keyFile).toBeUndefined();
      expect(startLine({ address, keyring, encrypted: false, metrics })).toContain(
        'API keys from config (auth.apiKeys, auth.clients, FACEGATE_API_KEYS; the generated key is off), no admin key configured;',
      );
    }
  });

  it('writes URLs one can type: localhost for every interface, brackets for IPv6', () => {
    expect(serviceUrl({ address: '::', port: 80 })).toBe('http://localhost:80');
    expect(serviceUrl({ address: '127.0.0.1', port: 18080 })).toBe('http://127.0.0.1:18080');
    expect(serviceUrl({ address: '::1', port: 8080 })).toBe('http://[::1]:8080');
  });
});
