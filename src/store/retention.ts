import type { ImageRepository } from './images';

const HOUR_MS = 3_600_000;

/**
 * Erases images never used for an enrollment once they are `hours` old: now, then every quarter
 * of that time (at most hourly). Returns the function that stops it.
 */
export function startImageRetention(images: ImageRepository, hours: number, erased: (count: number) => void): () => void {
  const sweep = () => {
    const count = images.eraseUnenrolledBefore(new Date(Date.now() - hours * HOUR_MS));
    if (count > 0) erased(count);
  };
  sweep();
  const timer = setInterval(sweep, Math.min(HOUR_MS, (hours * HOUR_MS) / 4));
  timer.unref();
  return () => clearInterval(timer);
}
