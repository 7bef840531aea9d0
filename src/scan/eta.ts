/**
 * Time left in a run of items, at a pace smoothed over the recent items: an exponential moving
 * average of the seconds per item, so that the estimate neither jumps with each burst of
 * completions (several workers finishing together, then none for a while) nor keeps the slow
 * start-up (models loading) in it for the whole run, as the average since the start would.
 */
export class SmoothedEta {
  /** Seconds per item, smoothed; undefined until an item has been done. */
  private pace: number | undefined;
  private lastAt: number;

  /**
   * @param startedAt when the run (or its resumption) started, in ms
   * @param weight how much one item's pace moves the average, in (0, 1]; n items done together move it as n single items would
   */
  constructor(
    startedAt: number,
    private readonly weight = 0.2,
  ) {
    if (!(weight > 0 && weight <= 1)) throw new RangeError('SmoothedEta: weight must be in (0, 1]');
    this.lastAt = startedAt;
  }

  /** `items` more were done at `now` (ms). */
  done(items: number, now: number): void {
    if (items <= 0) return;
    const perItem = Math.max(0, now - this.lastAt) / 1000 / items;
    this.lastAt = now;
    this.pace = this.pace === undefined ? perItem : this.pace + (1 - (1 - this.weight) ** items) * (perItem - this.pace);
  }

  /** Seconds until `remaining` more items are done, or null before the first item. */
  secondsLeft(remaining: number): number | null {
    return this.pace === undefined ? null : Math.max(0, remaining) * this.pace;
  }
}

/** `seconds` as a progress bar shows it: `45s`, `3m 05s`, `1h 02m`; `…` when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '…';
  const whole = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${pad(whole % 60)}s`;
  return `${Math.floor(whole / 3600)}h ${pad(Math.floor((whole % 3600) / 60))}m`;
}
