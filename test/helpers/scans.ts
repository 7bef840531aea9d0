import type { ScanRepository, UploadedFile } from '../../src/store/scans';

/** Stores a pending task with its files as the scanner's intake does, in one go. */
export function storeTask(scans: ScanRepository, task: { id: string; client: string; collection: string; createdAt: string }, files: UploadedFile[]): void {
  scans.beginIntake(task);
  scans.addFiles(task.id, 0, files);
  scans.completeIntake(task.id, files.length);
}
