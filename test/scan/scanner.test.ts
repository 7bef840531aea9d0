import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type Config, loadConfig } from '../../src/config';
import { createScanner } from '../../src/scan/scanner';
import { Store } from '../../src/store';
import { faceFreeJpeg } from '../helpers/images';

const logger = pino({ level: 'silent' });

function freshConfig(): Config {
  const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-scan-')) });
  config.scan.workers = 1;
  return config;
}

async function images(count: number) {
  return Promise.all(Array.from({ length: count }, async (_, i) => ({ name: `image-${i}.jpg`, bytes: await faceFreeJpeg(i + 1) })));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('Scanner across a restart', () => {
  it('leaves an interrupted task running with its unfinished files, and the next start finishes it', async () => {
    const config = freshConfig();
    let store = Store.open(config.store);
    const first = createScanner(config, store.scans, logger);
    const task = first.submit('default', await images(4));
    await until(() => (store.scans.task('default', task.id)?.processed ?? 0) >= 1);
    await first.close();
    const interrupted = store.scans.task('default', task.id);
    expect(interrupted?.status).toBe('running');
    expect(interrupted?.processed).toBeLessThan(4);
    const profiledBefore = store.scans.profiles(task.id).map((p) => p.name);
    store.close();

    store = Store.open(config.store);
    const second = createScanner(config, store.scans, logger);
    expect(second.resume()).toBe(1);
    await second.idle();
    await second.close();
    expect(store.scans.task('default', task.id)).toMatchObject({ status: 'done', processed: 4, total: 4 });
    const profiled = store.scans.profiles(task.id).map((p) => p.name);
    expect(profiled).toEqual(['image-0.jpg', 'image-1.jpg', 'image-2.jpg', 'image-3.jpg']);
    expect(profiled.slice(0, profiledBefore.length)).toEqual(profiledBefore);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM scan_files WHERE content IS NOT NULL').get()).toEqual({ n: 0 });
    store.close();
  });

  it('marks failed a file the service stopped on as many times as allowed, and scans the rest', async () => {
    const config = freshConfig();
    const store = Store.open(config.store);
    const scanner = createScanner(config, store.scans, logger);
    const task = scanner.submit('default', await images(2));
    await scanner.close();
    store.db.prepare('UPDATE scan_files SET attempts = ? WHERE task_id = ? AND position = 0').run(config.scan.maxAttempts, task.id);

    const restarted = createScanner(config, store.scans, logger);
    restarted.resume();
    await restarted.idle();
    await restarted.close();
    expect(store.scans.task('default', task.id)).toMatchObject({ status: 'done', processed: 2 });
    expect(store.scans.errors(task.id)).toEqual([{ file: 'image-0.jpg', error: expect.stringMatching(/did not finish in 3 attempts/) }]);
    expect(store.scans.profiles(task.id).map((p) => p.name)).toEqual(['image-1.jpg']);
    store.close();
  });

  it('fails the task, saying why, when the analysis models cannot load', async () => {
    const config = freshConfig();
    config.models.dir = mkdtempSync(join(tmpdir(), 'facegate-no-models-'));
    const store = Store.open(config.store);
    const scanner = createScanner(config, store.scans, logger);
    const task = scanner.submit('default', await images(2));
    await scanner.idle();
    await scanner.close();
    expect(store.scans.task('default', task.id)).toMatchObject({ status: 'failed', failure: expect.stringMatching(/models could not load: model manifest .* is missing/) });
    store.close();
  });
});
