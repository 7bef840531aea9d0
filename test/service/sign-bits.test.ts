import { SignBitCodes } from '../../src/service/sign-bits';
import { seededRandom } from '../helpers/random';

function vectors(seed: number, count: number, dimensions: number): Float32Array[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: dimensions }, () => random() * 2 - 1));
}

/** The Hamming distance of the sign bits, counted one component at a time. */
function signDistance(a: Float32Array, b: Float32Array): number {
  let differing = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > 0 !== b[i] > 0) differing++;
  return differing;
}

describe('sign-bit codes', () => {
  it.each([
    [512, 3000],
    // Not a multiple of 64 bits: the last word is padded with zeros in both codes.
    [100, 4000],
  ])('propose the slots nearest by Hamming distance at %i dimensions, over %i codes and several memory pages', (dimensions, count) => {
    const stored = vectors(1, count, dimensions);
    const codes = new SignBitCodes(dimensions);
    stored.forEach((v, slot) => codes.set(slot, v));
    expect(count * codes.bytesPerTemplate).toBeGreaterThan(65_536);
    for (const [query, wanted] of vectors(2, 5, dimensions).map((q, i) => [q, [1, 10, 50, 200, count][i]] as const)) {
      const distances = stored.map((v) => signDistance(v, query));
      const found = codes.nearest(query, count, wanted, []);
      expect(found.length).toBe(wanted);
      expect(new Set(found).size).toBe(wanted);
      // The wanted nearest, whichever of those tied at the farthest distance taken were chosen.
      const farthestTaken = Math.max(...found.map((slot) => distances[slot]));
      expect(distances.filter((d) => d < farthestTaken).length).toBeLessThanOrEqual(wanted);
      expect(found.filter((slot) => distances[slot] < farthestTaken).length).toBe(distances.filter((d) => d < farthestTaken).length);
    }
  });

  it('leaves free slots out, even when fewer live slots than wanted remain', () => {
    const stored = vectors(3, 40, 512);
    const codes = new SignBitCodes(512);
    stored.forEach((v, slot) => codes.set(slot, v));
    const free = [3, 17, 39];
    expect(codes.nearest(stored[17], 40, 5, free)).not.toContain(17);
    expect(codes.nearest(stored[17], 40, 5, [])).toContain(17);
    expect(codes.nearest(stored[17], 40, 100, free).sort((a, b) => a - b)).toEqual(stored.map((_, slot) => slot).filter((slot) => !free.includes(slot)));
  });

  it('writes a slot anew when it is set again', () => {
    const [first, second] = vectors(4, 2, 512);
    const codes = new SignBitCodes(512);
    codes.set(0, first);
    codes.set(1, first.map((x) => -x));
    expect(codes.nearest(first, 2, 1, [])).toEqual([0]);
    codes.set(0, second);
    codes.set(1, first);
    expect(codes.nearest(first, 2, 1, [])).toEqual([1]);
  });
});
