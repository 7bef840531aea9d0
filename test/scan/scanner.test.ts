import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type Config, loadConfig } from '../../src/config';
import { createScanner } from '../../src/scan/scanner';
import { openStore, type Store } from '../../src/store';
import { faceFreeJpeg } from '../helpers/images';
import { storeTask } from '../helpers/scans';
import { sqliteDb } from '../helpers/sqlite';

const logger = pino({ level: 'silent' });

function freshConfig(): Config {
  const config = loadConfig({ FACEGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'facegate-scan-')) });
  config.scan.workers = 1;
  return config;
}

async function images(count: number) {
  return Promise.all(Array.from({ length: count }, async (_, i) => ({ name: `image-${i}.jpg`, bytes: await faceFreeJpeg(i + 1) })));
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('Scanner across a restart', () => {
  it('leaves an interrupted task running with its unfinished files, and the next start finishes it', async () => {
    const config = freshConfig();
    let store = await openStore(config.store);
    const first = createScanner(config, store.scans, logger);
    const task = await first.submit('default', await images(4));
    await until(async () => ((await store.scans.task('default', task.id))?.processed ?? 0) >= 1);
    await first.close();
    const interrupted = await store.scans.task('default', task.id);
    expect(interrupted?.status).toBe('running');
    expect(interrupted?.processed).toBeLessThan(4);
    const profiledBefore = (await store.scans.profiles(task.id)).map((p) => p.name);
    await store.close();

    store = await openStore(config.store);
    const second = createScanner(config, store.scans, logger);
    expect(await second.resume()).toBe(1);
    await second.idle();
    await second.close();
    expect(await store.scans.task('default', task.id)).toMatchObject({ status: 'done', processed: 4, total: 4 });
    const profiled = (await store.scans.profiles(task.id)).map((p) => p.name);
    expect(profiled).toEqual(['image-0.jpg', 'image-1.jpg', 'image-2.jpg', 'image-3.jpg']);
    expect(profiled.slice(0, profiledBefore.length)).toEqual(profiledBefore);
    expect(sqliteDb(store).prepare('SELECT COUNT(*) AS n FROM scan_files WHERE content IS NOT NULL').get()).toEqual({ n: 0 });
    await store.close();
  });

  it('takes again, once its lease runs out, a file another scanner took and never settled', async () => {
    const config = freshConfig();
    config.scan.pollMs = 100;
    const store = await openStore(config.store);
    await storeTask(store.scans, { id: 'task-1', client: 'default', collection: 'c1', createdAt: new Date().toISOString() }, await images(2));
    // A scanner that stopped without a word (its replica was killed): its lease of the first file runs for a second.
    expect(await store.scans.claimNext({ holder: 'killed-replica', seconds: 1 }, new Date().toISOString())).toMatchObject({ position: 0 });
    const events: string[] = [];
    const scanner = createScanner(config, store.scans, logger, { fileScanned: (outcome) => events.push(outcome), taskEnded: (status) => events.push(`task ${status}`) });
    await scanner.submit('default', await images(1));
    await until(async () => (await store.scans.task('default', 'task-1'))?.status === 'done');
    await scanner.close();
    expect(events).toEqual(['profiled', 'profiled', 'task done', 'profiled', 'task done']);
    expect((await store.scans.profiles('task-1')).map((p) => p.name)).toEqual(['image-0.jpg', 'image-1.jpg']);
    expect(sqliteDb(store).prepare(`SELECT attempts FROM scan_files WHERE task_id = 'task-1' ORDER BY position`).all()).toEqual([{ attempts: 2 }, { attempts: 1 }]);
    await store.close();
  });

  it('marks failed a file the service stopped on as many times as allowed, and scans the rest', async () => {
    const config = freshConfig();
    const store = await openStore(config.store);
    const scanner = createScanner(config, store.scans, logger);
    const task = await scanner.submit('default', await images(2));
    await scanner.close();
    sqliteDb(store).prepare('UPDATE scan_files SET attempts = ? WHERE task_id = ? AND position = 0').run(config.scan.maxAttempts, task.id);

    const events: string[] = [];
    const restarted = createScanner(config, store.scans, logger, { fileScanned: (outcome) => events.push(outcome), taskEnded: (status) => events.push(`task ${status}`) });
    expect(await restarted.resume()).toBe(1);
    await restarted.idle();
    await restarted.close();
    expect(events).toEqual(['failed', 'profiled', 'task done']);
    expect(await restarted.queue()).toEqual({ pending: 0, running: 0 });
    expect(await store.scans.task('default', task.id)).toMatchObject({ status: 'done', processed: 2 });
    expect(await store.scans.errors(task.id)).toEqual([{ file: 'image-0.jpg', error: expect.stringMatching(/did not finish in 3 attempts/) }]);
    expect((await store.scans.profiles(task.id)).map((p) => p.name)).toEqual(['image-1.jpg']);
    await store.close();
  });

  it('fails the task, saying why, when the analysis models cannot load', async () => {
    const config = freshConfig();
    config.models.dir = mkdtempSync(join(tmpdir(), 'facegate-no-models-'));
    const store = await openStore(config.store);
    const events: string[] = [];
    const scanner = createScanner(config, store.scans, logger, { fileScanned: (outcome) => events.push(outcome), taskEnded: (status) => events.push(`task ${status}`) });
    const task = await scanner.submit('default', await images(2));
    await scanner.idle();
    await scanner.close();
    expect(events).toEqual(['task failed']);
    expect(await store.scans.task('default', task.id)).toMatchObject({ status: 'failed', failure: expect.stringMatching(/models could not load: model manifest .* is missing/) });
    await store.close();
  });

  describe('intake', () => {
    const withoutModels = () => {
      const config = freshConfig();
      config.models.dir = mkdtempSync(join(tmpdir(), 'facegate-no-models-'));
      return config;
    };
    const rows = (store: Store) => sqliteDb(store).prepare('SELECT (SELECT COUNT(*) FROM tasks) AS tasks, (SELECT COUNT(*) FROM scan_files) AS files').get();

    it('stores a large upload in several transactions, all its files in order', async () => {
      const config = withoutModels();
      const store = await openStore(config.store);
      const scanner = createScanner(config, store.scans, logger);
      const addFiles = jest.spyOn(store.scans, 'addFiles');
      const files = [0, 1, 2].map((i) => ({ name: `large-${i}.jpg`, bytes: Buffer.alloc(5 * 1024 * 1024, i) }));
      const task = await scanner.submit('default', files);
      expect(addFiles.mock.calls.map(([, first, batch]) => [first, batch.length])).toEqual([
        [0, 2],
        [2, 1],
      ]);
      expect(task.total).toBe(3);
      expect(sqliteDb(store).prepare('SELECT position, name FROM scan_files WHERE task_id = ? ORDER BY position').all(task.id)).toEqual(
        files.map((f, position) => ({ position, name: f.name })),
      );
      await scanner.close();
      await store.close();
    });

    it('keeps nothing of an upload whose files cannot all be read', async () => {
      const config = withoutModels();
      const store = await openStore(config.store);
      const scanner = createScanner(config, store.scans, logger);
      const unreadable = (function* () {
        yield { name: 'first.jpg', bytes: Buffer.alloc(9 * 1024 * 1024, 1) };
        throw new Error('the staged file went missing');
      })();
      await expect(scanner.submit('default', unreadable)).rejects.toThrow('the staged file went missing');
      expect(rows(store)).toEqual({ tasks: 0, files: 0 });
      await scanner.close();
      await store.close();
    });

    it('erases at the next start an intake a stopped process left incomplete, and does not scan it', async () => {
      const config = withoutModels();
      let store = await openStore(config.store);
      await store.scans.beginIntake({ id: 'cut-short', client: 'default', collection: 'cut-short-c', createdAt: new Date().toISOString() });
      await store.scans.addFiles('cut-short', 0, [{ name: 'a.jpg', bytes: Buffer.from('first of many') }]);
      await store.close();

      store = await openStore(config.store);
      const scanner = createScanner(config, store.scans, logger);
      expect(await scanner.resume()).toBe(0);
      expect(rows(store)).toEqual({ tasks: 0, files: 0 });
      await scanner.close();
      await store.close();
    });
  });
});
