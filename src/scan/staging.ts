import { mkdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Folders where uploads wait on disk while they are received and checked, one per request, under
 * one root (mode 0700, like every folder `mkdtemp` makes). Whatever a stopped process left in the
 * root is removed when it is opened.
 */
export class UploadStaging {
  constructor(private readonly root: string) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  /** A new, empty folder for one upload. */
  folder(): Promise<string> {
    return mkdtemp(join(this.root, 'upload-'));
  }

  /** Removes an upload's folder with everything in it. */
  async remove(folder: string): Promise<void> {
    await rm(folder, { recursive: true, force: true, maxRetries: 3 });
  }
}
