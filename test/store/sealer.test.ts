import { Sealer } from '../../src/store/sealer';

describe('Sealer', () => {
  const sealer = Sealer.fromKeyText('0f'.repeat(32));
  const data = Buffer.from('\xff\xd8\xff\xe0 a photo', 'latin1');

  it('round-trips, with a new IV each time, and passes unsealed data through', () => {
    const a = sealer.seal(data);
    const b = sealer.seal(data);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(data)).toBe(false);
    expect(sealer.open(a)).toEqual(data);
    expect(sealer.open(data)).toEqual(data);
    expect(Sealer.plain().seal(data)).toBe(data);
  });

  it('refuses tampered data, a wrong key, and sealed data without a key', () => {
    const sealed = sealer.seal(data);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] ^= 1;
    expect(() => sealer.open(tampered)).toThrow();
    expect(() => Sealer.fromKeyText(Buffer.alloc(32, 7).toString('base64')).open(sealed)).toThrow();
    expect(() => Sealer.plain().open(sealed)).toThrow('set FACEGATE_ENCRYPTION_KEY');
  });

  it('takes 64 hex digits or base64 of 32 bytes, nothing else', () => {
    expect(Sealer.fromKeyText(Buffer.alloc(32, 1).toString('base64')).encrypts).toBe(true);
    expect(() => Sealer.fromKeyText('too-short')).toThrow('must be 32 bytes');
  });

  it('reads the key from the environment and removes it there, so no child process inherits it', () => {
    const env: NodeJS.ProcessEnv = { FACEGATE_ENCRYPTION_KEY: 'ab'.repeat(32), PATH: '/bin' };
    expect(Sealer.fromEnvironment(env).encrypts).toBe(true);
    expect(env).toEqual({ PATH: '/bin' });
    expect(Sealer.fromEnvironment(env).encrypts).toBe(false);
  });
});
