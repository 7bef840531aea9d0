import type { Store } from '../../src/store';
import { startRetention } from '../../src/store/retention';

const HOUR_MS = 3_600_000;

describe('startRetention', () => {
  afterEach(() => jest.useRealTimers());

  it('reports a sweep that fails after start-up and sweeps again at the next period, instead of leaving a rejection unhandled', async () => {
    jest.useFakeTimers();
    let sweeps = 0;
    const store = {
      images: {
        eraseUnenrolledBefore: async () => {
          sweeps++;
          if (sweeps === 2) throw new Error('database is locked');
          return 0;
        },
      },
      scans: { eraseFinishedBefore: async () => 1 },
    } as unknown as Pick<Store, 'images' | 'scans'>;
    const erased: unknown[] = [];
    const failures: unknown[] = [];
    const stop = await startRetention(store, { unenrolledImageHours: 1, scanHours: 1 }, (counts) => erased.push(counts), (error) => failures.push(error));
    await jest.advanceTimersByTimeAsync(HOUR_MS / 4);
    await jest.advanceTimersByTimeAsync(HOUR_MS / 4);
    stop();
    expect(sweeps).toBe(3);
    expect(failures).toEqual([new Error('database is locked')]);
    expect(erased).toEqual([
      { images: 0, scans: 1 },
      { images: 0, scans: 1 },
    ]);
  });
});
