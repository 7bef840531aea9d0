import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Summary figures of a list of durations in milliseconds. */
export function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

export function summarize(samples: number[]): { median: number; p90: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p90: percentile(sorted, 90) };
}

export function argValue(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} takes a positive number`);
  return value;
}

/**
 * Measures the share of the machine's CPU time the hypervisor gave to other machines ("steal",
 * from /proc/stat) between the call and the returned function's call: on a shared host it explains
 * figures that move between runs. 0 where /proc/stat is absent.
 */
export function stealMeter(): () => number {
  const stolen = () => {
    try {
      return Number(readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)[8] ?? 0) / 100;
    } catch {
      return 0;
    }
  };
  const [before, started] = [stolen(), Date.now()];
  return () => (stolen() - before) / (((Date.now() - started) / 1000) * availableParallelism());
}
