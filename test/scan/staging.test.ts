import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UploadStaging } from '../../src/scan/staging';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('UploadStaging', () => {
  it('empties what a stopped process left, and keeps its root and each upload folder to the owner (0700)', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'facegate-staging-')), 'scan-uploads');
    mkdirSync(join(root, 'upload-left'), { recursive: true, mode: 0o755 });
    writeFileSync(join(root, 'upload-left', 'part-0'), 'a half-received upload');

    const staging = new UploadStaging(root);
    expect(readdirSync(root)).toEqual([]);
    expect(mode(root)).toBe(0o700);

    const folder = await staging.folder();
    expect(mode(folder)).toBe(0o700);
    writeFileSync(join(folder, 'part-0'), 'bytes');
    await staging.remove(folder);
    expect(existsSync(folder)).toBe(false);
  });
});
