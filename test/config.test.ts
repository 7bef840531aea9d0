import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, PROJECT_ROOT } from '../src/config';

function overrideFile(content: object): string {
  const path = join(mkdtempSync(join(tmpdir(), 'facegate-config-')), 'override.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('loads the embedded defaults, with paths resolved against the project root', () => {
    const config = loadConfig({});
    expect(config.server.port).toBe(8080);
    expect(config.models.dir).toBe(join(PROJECT_ROOT, 'models'));
    expect(config.store.dataDir).toBe(join(PROJECT_ROOT, 'data'));
    expect(config.models.load).toEqual(['blazeface', 'facemesh', 'iris', 'emotion', 'fr-feature', 'fr-feature-maps', 'antispoof', 'liveness', 'occlusion', 'quality']);
    expect(config.server.https).toBe(false);
  });

  it('applies environment overrides, turning numeric strings into numbers', () => {
    const config = loadConfig({ FACEGATE_PORT: '9090', FACEGATE_DATA_DIR: '/tmp/fg', FACEGATE_THREADS: '3', FACEGATE_WORKERS: '0', FACEGATE_LOG_LEVEL: 'warn' });
    expect(config.server.port).toBe(9090);
    expect(config.store.dataDir).toBe('/tmp/fg');
    expect(config.models.intraOpThreads).toBe(3);
    expect(config.models.workers).toBe(0);
    expect(config.log.level).toBe('warn');
    expect(loadConfig({ FACEGATE_HTTPS: 'true' }).server.https).toBe(true);
  });

  it('merges a FACEGATE_CONFIG file over the defaults', () => {
    const config = loadConfig({ FACEGATE_CONFIG: overrideFile({ models: { load: ['blazeface'] }, limits: { maxImageBytes: 2048 } }) });
    expect(config.models.load).toEqual(['blazeface']);
    expect(config.models.intraOpThreads).toBe(1);
    expect(config.limits.maxImageBytes).toBe(2048);
  });

  it.each([
    [{ FACEGATE_PORT: 'eighty' }, '/server/port (from FACEGATE_PORT) must be integer'],
    [{ FACEGATE_PORT: '70000' }, '/server/port (from FACEGATE_PORT) must be <= 65535'],
    [{ FACEGATE_THREADS: '0' }, '/models/intraOpThreads (from FACEGATE_THREADS) must be >= 1'],
    [{ FACEGATE_LOG_LEVEL: 'loud' }, '/log/level (from FACEGATE_LOG_LEVEL) must be equal to one of the allowed values'],
    [{ FACEGATE_HTTPS: 'yes' }, '/server/https (from FACEGATE_HTTPS) must be boolean'],
  ])('stops on a bad environment value %o with the key and the reason', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('stops on a bad file value, an unknown key and an unknown model with the path', () => {
    expect(() => loadConfig({ FACEGATE_CONFIG: overrideFile({ limits: { maxImageBytes: -1 } }) })).toThrow('/limits/maxImageBytes must be >= 1024');
    expect(() => loadConfig({ FACEGATE_CONFIG: overrideFile({ server: { prot: 1 } }) })).toThrow('/server has unknown key "prot"');
    expect(() => loadConfig({ FACEGATE_CONFIG: overrideFile({ models: { load: ['yolo'] } }) })).toThrow('/models/load/0 must be equal to one of the allowed values');
    expect(() => loadConfig({ FACEGATE_CONFIG: overrideFile({ pipeline: { embedding: { model: 'faceres' } } }) })).toThrow('/pipeline/embedding/model must be fr-feature');
    expect(() => loadConfig({ FACEGATE_CONFIG: overrideFile({ limits: { bodyTimeoutMs: 40000 } }) })).toThrow('/limits/bodyTimeoutMs (40000) must not exceed /server/requestTimeoutMs (30000)');
  });

  it('names an unreadable override file', () => {
    expect(() => loadConfig({ FACEGATE_CONFIG: '/nonexistent/facegate.json' })).toThrow('config file /nonexistent/facegate.json');
  });
});
