import type { ScanLease, ScanStore, UploadedFile } from '../../src/store';

/** A lease of a minute, for tests that claim files from the queue by hand. */
export const TEST_LEASE: ScanLease = { holder: 'test-scanner', seconds: 60 };

/** Stores a pending task with its files as the scanner's intake does, in one go. */
export async function storeTask(scans: ScanStore, task: { id: string; client: string; collection: string; createdAt: string }, files: UploadedFile[]): Promise<void> {
  await scans.beginIntake(task);
  await scans.addFiles(task.id, 0, files);
  await scans.completeIntake(task.id, files.length);
}
