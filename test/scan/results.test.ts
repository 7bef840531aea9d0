import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPORT_SECTIONS } from '../../src/scan/report';
import { ReportCache } from '../../src/scan/results';
import { openStore, type ScanTask, type Store } from '../../src/store';

import { storeTask } from '../helpers/scans';

/** A finished task whose files were profiled by hand: no models needed. */
async function finishedTask(store: Store, id: string): Promise<ScanTask> {
  const widths = [640, 652, 631, 1600];
  await storeTask(store.scans, { id, client: 'default', collection: `${id}-c`, createdAt: '2026-11-23T07:00:00.000Z' }, widths.map((_, i) => ({ name: `${i}.jpg`, bytes: Buffer.from([i]) })));
  // Settling the last file finishes the task.
  for (const [i, width] of widths.entries()) await store.scans.recordProfile(id, i, { file: `${i}.jpg`, image_width: width, image_height: 480, face_count: 1 }, null, '2026-11-23T07:00:01.000Z');
  return (await store.scans.task('default', id)) as ScanTask;
}

describe('ReportCache', () => {
  it('renders a finished collection once per contamination, keeps the latest few, and renders again after eviction', async () => {
    const store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'facegate-reports-')), busyTimeoutMs: 1000 });
    const [a, b] = [await finishedTask(store, 'a'), await finishedTask(store, 'b')];
    const cache = new ReportCache(store.scans, 2);

    const first = cache.report(a, 0.05);
    expect(cache.report(a, 0.05)).toBe(first);
    expect(cache.report(a, 0.25)).not.toBe(first);
    for (const section of REPORT_SECTIONS) expect(await first).toContain(`<section id="${section}"`);

    cache.report(b, 0.05);
    expect(cache.report(a, 0.05)).not.toBe(first);
    expect(await cache.report(a, 0.05)).toBe(await first);
    await store.close();
  });
});
