import type { Store } from './contract';

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
 * most hourly). `erased` hears of each sweep that erased something, `failed` of each that failed
 * (the next one tries again). Resolves once the first sweep is done, with the function that stops it.
 */
export async function startRetention(
  store: Pick<Store, 'images' | 'scans'>,
  hours: RetentionHours,
  erased: (counts: Erased) => void,
  failed: (error: unknown) => void,
): Promise<() => void> {
  const before = (periodHours: number) => new Date(Date.now() - periodHours * HOUR_MS);
  const sweep = async () => {
    const counts = {
      images: await store.images.eraseUnenrolledBefore(before(hours.unenrolledImageHours)),
      scans: await store.scans.eraseFinishedBefore(before(hours.scanHours)),
    };
    if (counts.images > 0 || counts.scans > 0) erased(counts);
  };
  await sweep();
  const timer = setInterval(() => sweep().catch(failed), Math.min(HOUR_MS, (Math.min(hours.unenrolledImageHours, hours.scanHours) * HOUR_MS) / 4));
  timer.unref();
  return () => clearInterval(timer);
}
