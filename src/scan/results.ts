import type { ProfiledFile, ScanRepository, ScanTask } from '../store/scans';
import { type ProfileOutliers, profileOutliers } from './outliers';
import { scanReport } from './report';

export interface CollectionOutliers {
  profiled: ProfiledFile[];
  outliers: ProfileOutliers;
}

/** ECOD over every profile of the task's collection; outlier indexes point into `profiled`. */
export function collectionOutliers(scans: ScanRepository, task: ScanTask, contamination: number): CollectionOutliers {
  const profiled = scans.profiles(task.id);
  return { profiled, outliers: profileOutliers(profiled.map((p) => p.profile), contamination) };
}

/** The collection's HTML report, with the thumbnails of its outliers. */
export async function collectionReport(scans: ScanRepository, task: ScanTask, contamination: number): Promise<string> {
  const { profiled, outliers } = collectionOutliers(scans, task, contamination);
  const thumbnails = new Map<string, Buffer>();
  for (const { index } of outliers.outliers) {
    const thumbnail = scans.thumbnail(task.id, profiled[index].position);
    if (thumbnail) thumbnails.set(profiled[index].name, thumbnail);
  }
  return scanReport({
    collection: task.collection,
    createdAt: task.createdAt,
    finishedAt: task.finishedAt,
    profiles: profiled.map((p) => p.profile),
    failures: scans.errors(task.id),
    outliers,
    contamination,
    thumbnails,
  });
}
