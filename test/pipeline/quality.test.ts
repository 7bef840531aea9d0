import { credit } from '../../src/pipeline/quality';
import { blockiness, noiseSigma } from '../../src/pipeline/photometry';
import { seededRandom } from '../helpers/random';

describe('credit curves', () => {
  it('pass through 0.1 and 0.9 at the two given values, rising or falling', () => {
    expect(credit(10, [10, 20])).toBeCloseTo(0.1);
    expect(credit(20, [10, 20])).toBeCloseTo(0.9);
    expect(credit(15, [10, 20])).toBeCloseTo(0.5);
    expect(credit(4, [12, 4])).toBeCloseTo(0.9);
    expect(credit(12, [12, 4])).toBeCloseTo(0.1);
    expect(credit(40, [12, 4])).toBeLessThan(credit(30, [12, 4]));
  });
});

describe('noise and compression measures', () => {
  const size = 64;
  const smooth = Float32Array.from({ length: size * size }, (_, i) => 100 + (i % size) + Math.floor(i / size) / 2);

  it('estimates the standard deviation of added Gaussian noise', () => {
    expect(noiseSigma(smooth, size, size)).toBeCloseTo(0, 5);
    const random = seededRandom(5);
    const noisy = smooth.map((v) => v + 10 * Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random()));
    expect(noiseSigma(noisy, size, size)).toBeGreaterThan(8.5);
    expect(noiseSigma(noisy, size, size)).toBeLessThan(11.5);
  });

  it('reads steps on the 8-pixel grid as blocking', () => {
    const random = seededRandom(6);
    const natural = Float32Array.from({ length: size * size }, () => 100 + 20 * random());
    expect(blockiness({ lum: natural, width: size, height: size, x0: 0, y0: 0 })).toBeCloseTo(1, 1);
    // Flat 8x8 blocks of different levels: every step sits on a block boundary.
    const blocks = Float32Array.from({ length: size * size }, (_, i) => 100 + 10 * ((Math.floor((i % size) / 8) + Math.floor(Math.floor(i / size) / 8)) % 3) + random());
    expect(blockiness({ lum: blocks, width: size, height: size, x0: 0, y0: 0 })).toBeGreaterThan(3);
  });
});
