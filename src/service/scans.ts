import { join } from 'node:path';
import type { Config } from '../config';
import { IntakePerClient, type ReceivedPart, stagedFiles, stageImagesOfUpload } from '../scan/intake';
import { type CollectionOutliers, collectionOutliers, ReportCache } from '../scan/results';
import type { SmoothedEta } from '../scan/eta';
import type { Scanner } from '../scan/scanner';
import { UploadStaging } from '../scan/staging';
import type { FileError, ScanTask, StoredProfile, Store } from '../store';

/** Under the data folder, so that uploads on their way in fill the disk the database is on, not a RAM-backed /tmp. */
const UPLOAD_STAGING_FOLDER = 'scan-uploads';

/** Rendered reports kept in memory (a few MB each for large collections). */
const REPORTS_KEPT = 8;

/** The client already has an upload being received and checked. */
export class IntakeBusy extends Error {}

/** The collection's scan is still pending or running: it has no outliers or report yet. */
export class ScanUnfinished extends Error {
  constructor(readonly task: ScanTask) {
    super(`the scan of collection ${task.collection} is ${task.status}`);
  }
}

export interface ScanFlows {
  /**
   * Takes one upload of `client` (one at a time per client, else IntakeBusy): `receive` writes
   * its parts into a fresh staging folder, which is removed afterwards whatever happens; the
   * images are checked, stored as a new collection and queued for scanning. Bad uploads throw
   * IntakeError before anything is stored.
   */
  intake(client: string, receive: (folder: string) => Promise<ReceivedPart[]>): Promise<ScanTask>;
  /** The client's task with its file errors and, while this process scans it, its smoothed pace; undefined for an unknown task or another client's. */
  task(client: string, taskId: string): Promise<{ task: ScanTask; errors: FileError[]; eta?: SmoothedEta } | undefined>;
  /** The task that scanned the client's collection; undefined for an unknown collection or another client's. */
  collection(client: string, collection: string): Promise<ScanTask | undefined>;
  /** As `collection`, once its scan has ended (ScanUnfinished before): only then are there outliers and a report. */
  finishedCollection(client: string, collection: string): Promise<ScanTask | undefined>;
  /** The task's profiles so far, `limit` of them (all when absent) after the first `skip`, and how many there are. */
  profiles(task: ScanTask, skip: number, limit?: number): Promise<{ profiles: StoredProfile[]; total: number }>;
  /** ECOD outliers of a finished collection's profiles. */
  outliers(task: ScanTask, contamination: number): Promise<CollectionOutliers>;
  /** The HTML report of a finished collection. */
  report(task: ScanTask, contamination: number): Promise<string>;
  /** Deletes the client's collection with its task, files and results; false when there was none. */
  deleteCollection(client: string, collection: string): Promise<boolean>;
}

/** Batch scans (BQAT's API): intake of uploads, the tasks' progress, and results read from the store. */
export function scanFlows({ config, store, scanner }: { config: Config; store: Store; scanner: Scanner }): ScanFlows {
  const intakeLimits = { ...config.scan, maxImageBytes: config.limits.maxImageBytes, maxImagePixels: config.limits.maxImagePixels };
  const staging = new UploadStaging(join(config.store.dataDir, UPLOAD_STAGING_FOLDER));
  const intakes = new IntakePerClient();
  const reports = new ReportCache(store.scans, REPORTS_KEPT);

  return {
    async intake(client, receive) {
      const release = intakes.claim(client);
      if (!release) throw new IntakeBusy(`an upload of client ${client} is still in intake`);
      let folder: string | undefined;
      try {
        folder = await staging.folder();
        const images = await stageImagesOfUpload(await receive(folder), folder, intakeLimits);
        return await scanner.submit(client, stagedFiles(images));
      } finally {
        release();
        if (folder) await staging.remove(folder);
      }
    },
    async task(client, taskId) {
      const task = await store.scans.task(client, taskId);
      return task && { task, errors: await store.scans.errors(task.id), eta: scanner.etaOf(task.id) };
    },
    collection: (client, collection) => store.scans.taskOfCollection(client, collection),
    async finishedCollection(client, collection) {
      const task = await store.scans.taskOfCollection(client, collection);
      if (task && (task.status === 'pending' || task.status === 'running')) throw new ScanUnfinished(task);
      return task;
    },
    async profiles(task, skip, limit) {
      const profiles = (await store.scans.profiles(task.id, skip, limit)).map((p) => p.profile);
      return { profiles, total: await store.scans.profileCount(task.id) };
    },
    outliers: (task, contamination) => collectionOutliers(store.scans, task, contamination),
    report: (task, contamination) => reports.report(task, contamination),
    deleteCollection: (client, collection) => store.scans.deleteCollection(client, collection),
  };
}
