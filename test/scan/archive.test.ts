import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl, { type ZipFile } from 'yauzl';
import { type ArchivedFile, ArchiveError, type ArchiveLimits, filesInZip, isZip } from '../../src/scan/archive';
import { zipOf } from '../helpers/zip';

const LIMITS: ArchiveLimits = { maxEntries: 10, maxEntryBytes: 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024, maxCompressionRatio: 100 };

function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

const folder = mkdtempSync(join(tmpdir(), 'facegate-archive-'));
let written = 0;

/** The archive written to a file of its own, where `filesInZip` reads it. */
function zipFile(zip: Buffer): string {
  const path = join(folder, `${written++}.zip`);
  writeFileSync(path, zip);
  return path;
}

async function files(zip: Buffer, limits: ArchiveLimits = LIMITS): Promise<ArchivedFile[]> {
  const read: ArchivedFile[] = [];
  for await (const file of filesInZip(zipFile(zip), limits)) read.push(file);
  return read;
}

/** What `filesInZip` rejects with: its code and message, or a failure when it resolves. */
async function rejection(zip: Buffer, limits: ArchiveLimits = LIMITS): Promise<{ code: string; message: string }> {
  const error = await files(zip, limits).then(
    () => {
      throw new Error('expected the archive to be rejected');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArchiveError);
  const { code, message } = error as ArchiveError;
  return { code, message };
}

describe('isZip', () => {
  it('knows a zip by its local-file or empty-archive signature', () => {
    expect(isZip(zipOf([{ name: 'a.jpg', data: bytes('a') }]))).toBe(true);
    expect(isZip(zipOf([]))).toBe(true);
  });

  it('refuses anything else, however short', () => {
    expect(isZip(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe(false);
    expect(isZip(bytes('PK'))).toBe(false);
    expect(isZip(bytes('PK\x07\x08'))).toBe(false);
    expect(isZip(new Uint8Array(0))).toBe(false);
  });
});

describe('filesInZip', () => {
  it('returns every file in archive order, nested names as stored, exact bytes, stored or deflated', async () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3]);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(5000, 7)]);
    const zip = zipOf([
      { name: 'scans/2024/03/z.jpg', data: jpeg },
      { name: 'scans/b.png', data: png, method: 0 },
      { name: 'fotos/café.jpg', data: bytes('ü') },
      { name: 'a.jpg', data: Buffer.alloc(0) },
    ]);
    expect(await files(zip, LIMITS)).toEqual([
      { name: 'scans/2024/03/z.jpg', bytes: jpeg },
      { name: 'scans/b.png', bytes: png },
      { name: 'fotos/café.jpg', bytes: bytes('ü') },
      { name: 'a.jpg', bytes: Buffer.alloc(0) },
    ]);
  });

  it('skips directories, __MACOSX/ and hidden files, which do not count towards maxEntries', async () => {
    const zip = zipOf([
      { name: 'scans/', data: Buffer.alloc(0), method: 0 },
      { name: '__MACOSX/scans/._a.jpg', data: bytes('resource fork') },
      { name: 'scans/.DS_Store', data: bytes('finder') },
      { name: '.hidden.jpg', data: bytes('hidden') },
      { name: 'scans/a.jpg', data: bytes('a') },
    ]);
    expect(await files(zip, { ...LIMITS, maxEntries: 1 })).toEqual([{ name: 'scans/a.jpg', bytes: bytes('a') }]);
  });

  it('gives no files for an empty archive', async () => {
    expect(await files(zipOf([]), LIMITS)).toEqual([]);
  });

  it('refuses bytes that are not a zip as damaged', async () => {
    expect(await rejection(bytes('just some text'))).toEqual({ code: 'corrupt', message: 'The zip archive is damaged or truncated.' });
  });

  it.each([
    ['../../etc/passwd', 'points outside the archive'],
    ['scans/../../x.jpg', 'points outside the archive'],
    ['..\\x.jpg', 'points outside the archive'],
    ['__MACOSX/../../x.jpg', 'points outside the archive'], // on entries that would be skipped too
    ['../', 'points outside the archive'],
    ['/etc/passwd', 'has an absolute path'],
    ['C:\\Windows\\x.jpg', 'has an absolute path'],
    ['C:/x.jpg', 'has an absolute path'],
    ['\\\\server\\share\\x.jpg', 'has an absolute path'],
    ['scans\\x.jpg', 'has a backslash in its name; zip paths use forward slashes'],
  ])('refuses the whole archive for the unsafe name %s', async (name, reason) => {
    const zip = zipOf([
      { name: 'ok.jpg', data: bytes('ok') },
      { name, data: bytes('evil') },
    ]);
    expect(await rejection(zip)).toEqual({ code: 'unsafe_path', message: `Zip entry '${name}' ${reason}.` });
  });

  it('refuses more files than maxEntries', async () => {
    const zip = zipOf(['a.jpg', 'b.jpg', 'c.jpg'].map((name) => ({ name, data: bytes(name) })));
    expect(await files(zip, { ...LIMITS, maxEntries: 3 })).toHaveLength(3);
    expect(await rejection(zip, { ...LIMITS, maxEntries: 2 })).toEqual({
      code: 'too_many_entries',
      message: 'The zip archive holds more files than the limit of 2.',
    });
  });

  it('refuses an entry larger than maxEntryBytes', async () => {
    const zip = zipOf([{ name: 'big.jpg', data: Buffer.alloc(2000, 1), method: 0 }]);
    expect(await files(zip, { ...LIMITS, maxEntryBytes: 2000 })).toHaveLength(1);
    expect(await rejection(zip, { ...LIMITS, maxEntryBytes: 1999 })).toEqual({
      code: 'entry_too_large',
      message: "Zip entry 'big.jpg' is 2000 bytes unpacked; the limit is 1999.",
    });
  });

  it('refuses files that together pass maxTotalBytes', async () => {
    const zip = zipOf(['a.jpg', 'b.jpg', 'c.jpg'].map((name) => ({ name, data: Buffer.alloc(1000, 1), method: 0 as const })));
    expect(await files(zip, { ...LIMITS, maxTotalBytes: 3000 })).toHaveLength(3);
    expect(await rejection(zip, { ...LIMITS, maxTotalBytes: 2999 })).toEqual({
      code: 'too_large',
      message: "Zip entry 'c.jpg' brings the archive to 3000 bytes unpacked; the limit is 2999.",
    });
  });

  it('refuses a real zip bomb by its compression ratio, without inflating it', async () => {
    const fiftyMegabytes = 50 * 1024 * 1024;
    const zip = zipOf([{ name: 'bomb.jpg', data: Buffer.alloc(fiftyMegabytes) }]);
    expect(zip.length).toBeLessThan(100 * 1024);
    const generous = { ...LIMITS, maxEntryBytes: 2 * fiftyMegabytes, maxTotalBytes: 2 * fiftyMegabytes };
    const readStream = jest.spyOn(yauzl.ZipFile.prototype, 'openReadStreamPromise');
    try {
      const { code, message } = await rejection(zip, generous);
      expect(code).toBe('zip_bomb');
      expect(message).toMatch(/^Zip entry 'bomb\.jpg' unpacks to \d+ times its packed size; the limit is 100 times\.$/);
      expect(readStream).not.toHaveBeenCalled();
    } finally {
      readStream.mockRestore();
    }
  });

  it('stops a deflated entry that inflates past its declared size', async () => {
    const zip = zipOf([{ name: 'liar.jpg', data: Buffer.alloc(1024 * 1024), declaredSize: 1000 }]);
    expect(await rejection(zip)).toEqual({ code: 'zip_bomb', message: "Zip entry 'liar.jpg' unpacks to more than the 1000 bytes it declares." });
  });

  it('refuses an entry that inflates to fewer bytes than it declares as corrupt', async () => {
    const zip = zipOf([{ name: 'short.jpg', data: bytes('short'), declaredSize: 6 }]);
    expect(await rejection(zip)).toEqual({ code: 'corrupt', message: "Zip entry 'short.jpg' is damaged or cannot be unpacked." });
  });

  it.each([0, 8] as const)('refuses an encrypted entry (method %d)', async (method) => {
    const zip = zipOf([{ name: 'secret.jpg', data: bytes('secret'), encrypted: true, method }]);
    expect(await rejection(zip)).toEqual({ code: 'encrypted', message: "Zip entry 'secret.jpg' is encrypted; upload an archive without a password." });
  });

  it('refuses a truncated archive, a zip signature followed by junk and a stored entry whose sizes disagree', async () => {
    const whole = zipOf([{ name: 'a.jpg', data: bytes('a') }]);
    const damaged = { code: 'corrupt', message: 'The zip archive is damaged or truncated.' };
    expect(await rejection(whole.subarray(0, whole.length - 5))).toEqual(damaged);
    expect(await rejection(Buffer.concat([bytes('PK\x03\x04'), Buffer.alloc(100, 0xaa)]))).toEqual(damaged);
    expect(await rejection(zipOf([{ name: 'a.jpg', data: bytes('abc'), declaredSize: 2, method: 0 }]))).toEqual(damaged);
  });

  it('refuses a deflated entry whose data is not deflate', async () => {
    const zip = zipOf([{ name: 'a.jpg', data: Buffer.alloc(64, 0xff), method: 0 }]);
    const methodOffset = 8;
    zip.writeUInt16LE(8, methodOffset); // the local header now claims deflate...
    zip.writeUInt16LE(8, zip.indexOf(bytes('PK\x01\x02')) + 10); // ...and so does the central directory.
    expect(await rejection(zip)).toEqual({ code: 'corrupt', message: "Zip entry 'a.jpg' is damaged or cannot be unpacked." });
  });

  it('closes the archive whether it is read through, left early or refused', async () => {
    const openZip = yauzl.openPromise;
    const opened: ZipFile[] = [];
    const open = jest.spyOn(yauzl, 'openPromise').mockImplementation(async (path, options) => {
      const zipfile = await openZip(path, options);
      opened.push(zipfile);
      return zipfile;
    });
    try {
      await files(zipOf([{ name: 'a.jpg', data: bytes('a') }]), LIMITS);
      for await (const file of filesInZip(zipFile(zipOf([{ name: 'a.jpg', data: bytes('a') }, { name: 'b.jpg', data: bytes('b') }])), LIMITS)) {
        expect(file.name).toBe('a.jpg');
        break;
      }
      await rejection(zipOf([{ name: 'a.jpg', data: bytes('a') }, { name: '../b.jpg', data: bytes('b') }]));
      await rejection(zipOf([{ name: 'liar.jpg', data: Buffer.alloc(100_000), declaredSize: 10 }]));
    } finally {
      open.mockRestore();
    }
    expect(opened.map((zipfile) => zipfile.isOpen)).toEqual([false, false, false, false]);
  });
});
