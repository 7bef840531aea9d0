import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ENV_LISTS, ENV_OVERRIDES, PROJECT_ROOT } from '../src/config';

interface Service {
  environment?: Record<string, string>;
  build?: string;
  image?: string;
}

const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const nginx = readFileSync(join(PROJECT_ROOT, 'deploy', 'nginx.conf'), 'utf8');
/** Variables the service reads: config overrides and lists, and the encryption key (read apart from the config). */
const KNOWN = new Set([...Object.keys(ENV_OVERRIDES), ...Object.keys(ENV_LISTS), 'FACEGATE_ENCRYPTION_KEY']);
const replicas = Object.entries(compose.services).filter(([, service]) => service.build === '.');

describe('docker-compose.yml: two replicas on one PostgreSQL behind nginx', () => {
  it('runs PostgreSQL, nginx and two replicas built from this Dockerfile', () => {
    expect(compose.services.postgres.image).toMatch(/^postgres:15/);
    expect(compose.services.nginx.image).toMatch(/^nginx:/);
    expect(replicas.map(([name]) => name)).toEqual(['replica1', 'replica2']);
  });

  it('gives every replica the same database, encryption key and keys, in variables the service reads', () => {
    const [first, second] = replicas.map(([, service]) => service.environment ?? {});
    expect(second).toEqual(first);
    expect(first.FACEGATE_DATABASE_URL).toMatch(/^postgres:\/\/facegate:.*@postgres:5432\/facegate$/);
    for (const name of ['FACEGATE_ENCRYPTION_KEY', 'FACEGATE_API_KEYS', 'FACEGATE_ADMIN_KEYS']) expect(first[name]).toBeDefined();
    expect(Object.keys(first).filter((name) => !KNOWN.has(name))).toEqual([]);
  });

  it('balances every route, the scan family included, over every replica in nginx', () => {
    const upstreams = [...nginx.matchAll(/upstream (\S+) \{([^}]*)\}/g)].map(([, name, body]) => [name, [...body.matchAll(/server (\S+);/g)].map((m) => m[1])]);
    expect(upstreams).toEqual([['facegate', replicas.map(([name]) => `${name}:8080`)]]);
    expect([...nginx.matchAll(/proxy_pass (\S+);/g)].map((m) => m[1])).toEqual(['http://facegate']);
  });
});
