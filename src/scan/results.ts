import type { ProfiledFile, ScanStore, ScanTask } from '../store';
import { type ProfileOutliers, profileOutliers } from './outliers';
import { scanReport } from './report';

export interface CollectionOutliers {
  profiled: ProfiledFile[];
  outliers: ProfileOutliers;
}

/** ECOD over every profile of the task's collection; outlier indexes point into `profiled`. */
export async function collectionOutliers(scans: ScanStore, task: ScanTask, contamination: number): Promise<CollectionOutliers> {
  const profiled = await scans.profiles(task.id);
  return { profiled, outliers: profileOutliers(profiled.map((p) => p.profile), contamination) };
}

/** The collection's HTML report, with the thumbnails of its outliers. */
export async function collectionReport(scans: ScanStore, task: ScanTask, contamination: number): Promise<string> {
  const { profiled, outliers } = await collectionOutliers(scans, task, contamination);
  const thumbnails = new Map<string, Buffer>();
  for (const { index } of outliers.outliers) {
    const thumbnail = await scans.thumbnail(task.id, profiled[index].position);
    if (thumbnail) thumbnails.set(profiled[index].name, thumbnail);
  }
  return scanReport({
    collection: task.collection,
    createdAt: task.createdAt,
    finishedAt: task.finishedAt,
    profiles: profiled.map((p) => p.profile),
    failures: await scans.errors(task.id),
    outliers,
    contamination,
    thumbnails,
  });
}

/**
 * Reports of finished collections, which no longer change: each (collection, contamination) is
 * rendered once, as rendering runs on the main thread; the `size` latest are kept.
 */
export class ReportCache {
  private readonly reports = new Map<string, Promise<string>>();

  constructor(
    private readonly scans: ScanStore,
    private readonly size: number,
  ) {}

  report(task: ScanTask, contamination: number): Promise<string> {
    const key = `${task.id}:${contamination}`;
    const cached = this.reports.get(key);
    if (cached) return cached;
    const report = collectionReport(this.scans, task, contamination);
    this.reports.set(key, report);
    report.catch(() => this.reports.delete(key));
    for (const oldest of this.reports.keys()) {
      if (this.reports.size <= this.size) break;
      this.reports.delete(oldest);
    }
    return report;
  }
}
