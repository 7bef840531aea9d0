import type { ScanStore, UploadedFile } from '../../src/store';

/** Stores a pending task with its files as the scanner's intake does, in one go. */
export async function storeTask(scans: ScanStore, task: { id: string; client: string; collection: string; createdAt: string }, files: UploadedFile[]): Promise<void> {
  await scans.beginIntake(task);
  await scans.addFiles(task.id, 0, files);
  await scans.completeIntake(task.id, files.length);
}
