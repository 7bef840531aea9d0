import { formatDuration, SmoothedEta } from '../../src/scan/eta';
import { progressOf } from '../../src/scan/scanner';
import type { ScanTask } from '../../src/store';

describe('SmoothedEta', () => {
  it('knows nothing before the first item, then gives remaining items times the pace', () => {
    const eta = new SmoothedEta(0);
    expect(eta.secondsLeft(10)).toBeNull();
    for (let i = 1; i <= 5; i++) eta.done(1, i * 2000);
    expect(eta.secondsLeft(10)).toBeCloseTo(20, 9);
    expect(eta.secondsLeft(0)).toBe(0);
  });

  it('stays steady when two workers finish together, then none for a while', () => {
    const eta = new SmoothedEta(0);
    const estimates: number[] = [];
    let now = 0;
    // Two items every 2 s (1 s an item), arriving as one burst and one 0 ms straggler.
    for (let pair = 0; pair < 20; pair++) {
      now += 2000;
      eta.done(1, now);
      estimates.push(eta.secondsLeft(100) as number);
      eta.done(1, now);
      estimates.push(eta.secondsLeft(100) as number);
    }
    const settled = estimates.slice(10);
    // The pace of each single interval swings between 2 s and 0 s an item (200 s and 0 s left);
    // the smoothed estimate stays near the true 100 s.
    expect(Math.min(...settled)).toBeGreaterThan(75);
    expect(Math.max(...settled)).toBeLessThan(125);
  });

  it('forgets a slow start (models loading) much sooner than the average since the start', () => {
    const eta = new SmoothedEta(0);
    eta.done(1, 30_000); // the first item waited 30 s for the models
    for (let i = 1; i <= 40; i++) eta.done(1, 30_000 + i * 1000);
    const smoothed = eta.secondsLeft(100) as number;
    const sinceStart = (100 * 70) / 41;
    expect(smoothed).toBeLessThan(105);
    expect(sinceStart).toBeGreaterThan(170);
  });

  it('moves n items done at once as far as n single items', () => {
    const together = new SmoothedEta(0);
    together.done(1, 1000);
    together.done(3, 4000);
    const apart = new SmoothedEta(0);
    apart.done(1, 1000);
    for (const at of [2000, 3000, 4000]) apart.done(1, at);
    expect(together.secondsLeft(10)).toBeCloseTo(apart.secondsLeft(10) as number, 9);
  });

  it('refuses a weight outside (0, 1]', () => {
    expect(() => new SmoothedEta(0, 0)).toThrow(RangeError);
    expect(() => new SmoothedEta(0, 1.5)).toThrow(RangeError);
  });
});

describe('formatDuration', () => {
  it('writes seconds, minutes, hours, and … when unknown', () => {
    expect(formatDuration(null)).toBe('…');
    expect(formatDuration(44.6)).toBe('45s');
    expect(formatDuration(185)).toBe('3m 05s');
    expect(formatDuration(3720)).toBe('1h 02m');
  });
});

describe('progressOf', () => {
  const task: ScanTask = {
    id: 't',
    client: 'default',
    collection: 'c',
    status: 'running',
    total: 100,
    processed: 40,
    startedProcessed: 0,
    startedAt: '2026-01-01T00:00:00.000Z',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:01:20.000Z',
    finishedAt: null,
    failure: null,
  };
  const now = new Date('2026-01-01T00:01:20.000Z');

  it('uses the smoothed pace of the scan under way when there is one, else the pace since the run started', () => {
    expect(progressOf(task, now)).toEqual({ percent: 40, etaSeconds: 120 });
    const eta = new SmoothedEta(0);
    eta.done(1, 500);
    expect(progressOf(task, now, eta)).toEqual({ percent: 40, etaSeconds: 30 });
    expect(progressOf(task, now, new SmoothedEta(0))).toEqual({ percent: 40, etaSeconds: 120 });
  });
});
