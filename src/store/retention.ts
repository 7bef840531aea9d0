import type { Store } from './index';

const HOUR_MS = 3_600_000;

export interface RetentionHours {
  /** Images never used for an enrollment are erased this long after their upload. */
  unenrolledImageHours: number;
  /** Finished scans are erased this long after they finished, with their files, profiles and thumbnails. */
  scanHours: number;
}

export interface Erased {
  images: number;
  scans: number;
}

/**
 * Erases what the store keeps only for a while: now, then every quarter of the shorter period (at
 * most hourly). `erased` hears of each sweep that erased something. Returns the function that stops it.
 */
export function startRetention(store: Pick<Store, 'images' | 'scans'>, hours: RetentionHours, erased: (counts: Erased) => void): () => void {
  const before = (periodHours: number) => new Date(Date.now() - periodHours * HOUR_MS);
  const sweep = () => {
    const counts = {
      images: store.images.eraseUnenrolledBefore(before(hours.unenrolledImageHours)),
      scans: store.scans.eraseFinishedBefore(before(hours.scanHours)),
    };
    if (counts.images > 0 || counts.scans > 0) erased(counts);
  };
  sweep();
  const timer = setInterval(sweep, Math.min(HOUR_MS, (Math.min(hours.unenrolledImageHours, hours.scanHours) * HOUR_MS) / 4));
  timer.unref();
  return () => clearInterval(timer);
}
