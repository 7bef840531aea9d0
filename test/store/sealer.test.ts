import { randomBytes } from 'node:crypto';
import { type BlobPlace, Sealer } from '../../src/store/sealer';
import { firstFormatSealed, TEST_ENCRYPTION_KEY } from '../helpers/encryption';

describe('Sealer', () => {
  const sealer = Sealer.fromKeyText(TEST_ENCRYPTION_KEY);
  const data = Buffer.from('\xff\xd8\xff\xe0 a photo', 'latin1');
  const here: BlobPlace = { table: 'images', row: 'a', column: 'original' };

  it('round-trips, with a new IV each time', () => {
    const a = sealer.seal(data, here);
    const b = sealer.seal(data, here);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(data)).toBe(false);
    expect(sealer.open(a, here)).toEqual(data);
    expect(Sealer.plain().seal(data, here)).toBe(data);
    expect(Sealer.plain().open(data, here)).toBe(data);
  });

  it('opens a sealed blob only at the place it was sealed for: another row, column or table refuses it', () => {
    const sealed = sealer.seal(data, here);
    for (const elsewhere of [
      { ...here, row: 'b' },
      { ...here, column: 'cropped' },
      { table: 'scan_files', row: 'a', column: 'original' },
    ]) {
      expect(() => sealer.open(sealed, elsewhere)).toThrow(`${elsewhere.table}:${elsewhere.row}:${elsewhere.column} does not open`);
    }
  });

  it('refuses tampered data, a wrong key, and sealed data without a key', () => {
    const sealed = sealer.seal(data, here);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    expect(() => sealer.open(tampered, here)).toThrow('does not open');
    expect(() => Sealer.fromKeyText(randomBytes(32).toString('base64')).open(sealed, here)).toThrow('does not open');
    expect(() => Sealer.plain().open(sealed, here)).toThrow('images:a:original is encrypted: set FACEGATE_ENCRYPTION_KEY');
  });

  it('with a key, refuses a blob in clear and one in the first format, naming the place and not the data', () => {
    const open = (blob: Buffer) => () => sealer.open(blob, here);
    // The whole message: the place and what to do, nothing of the data.
    expect(open(data)).toThrow(/^images:a:original is stored in clear although FACEGATE_ENCRYPTION_KEY is set: run npx facegate encrypt-existing$/);
    const old = firstFormatSealed(data);
    expect(open(old)).toThrow('images:a:original is sealed in the first format');
  });

  it('reseals a blob in clear or in the first format, leaves a current one alone, and refuses one of another key', () => {
    const fromClear = sealer.reseal(data, here)!;
    expect(sealer.open(fromClear, here)).toEqual(data);
    const fromOld = sealer.reseal(firstFormatSealed(data), here)!;
    expect(sealer.open(fromOld, here)).toEqual(data);
    expect(sealer.reseal(fromOld, here)).toBeUndefined();
    const otherKey = Sealer.fromKeyText(randomBytes(32).toString('hex'));
    expect(() => otherKey.reseal(fromOld, here)).toThrow('does not open');
    expect(() => Sealer.plain().reseal(data, here)).toThrow('FACEGATE_ENCRYPTION_KEY is not set');
  });

  it('takes exactly 32 bytes as 64 hex digits or canonical base64, nothing looser', () => {
    const key = randomBytes(32);
    expect(Sealer.fromKeyText(key.toString('hex')).encrypts).toBe(true);
    expect(Sealer.fromKeyText(key.toString('hex').toUpperCase()).encrypts).toBe(true);
    expect(Sealer.fromKeyText(key.toString('base64')).encrypts).toBe(true);
    const base64 = key.toString('base64');
    const malformed = [
      'too-short',
      key.toString('hex').slice(0, 63),
      `${key.toString('hex')}00`,
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      base64.slice(0, -1),
      ` ${base64}`,
      `${base64.slice(0, 20)} ${base64.slice(20)}`,
      `${base64.slice(0, 20)}*${base64.slice(21)}`,
      key.toString('base64url'),
      // The same bytes with the unused low bits of the last character set: Buffer would decode it, leniently.
      `${base64.slice(0, 42)}${String.fromCharCode(base64.charCodeAt(42) + 1)}=`,
    ];
    for (const text of malformed) expect(() => Sealer.fromKeyText(text)).toThrow('must be 32 bytes written as 64 hex digits or as 44 characters of standard base64');
  });

  it('refuses weak keys: all zeros, one byte repeated, fewer than 16 distinct byte values', () => {
    const fifteen = Buffer.from(Array.from({ length: 32 }, (_, i) => i % 15));
    for (const weak of [Buffer.alloc(32), Buffer.alloc(32, 0xab), fifteen]) {
      expect(() => Sealer.fromKeyText(weak.toString('hex'))).toThrow('FACEGATE_ENCRYPTION_KEY is too weak');
      expect(() => Sealer.fromKeyText(weak.toString('base64'))).toThrow('FACEGATE_ENCRYPTION_KEY is too weak');
    }
    expect(Sealer.fromKeyText(Buffer.from(Array.from({ length: 32 }, (_, i) => i % 16)).toString('hex')).encrypts).toBe(true);
  });

  it('reads the key from the environment and removes it there, so no child process inherits it', () => {
    const env: NodeJS.ProcessEnv = { FACEGATE_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, PATH: '/bin' };
    expect(Sealer.fromEnvironment(env).encrypts).toBe(true);
    expect(env).toEqual({ PATH: '/bin' });
    expect(Sealer.fromEnvironment(env).encrypts).toBe(false);
  });
});
