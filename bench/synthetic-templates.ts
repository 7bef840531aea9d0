import { seededRandom } from '../eval/random';

/** fr-feature's embedding. */
export const DIMENSIONS = 512;

/** A seeded random unit vector: row `row` of the synthetic population `seed`, the same on every run. */
export function unitVector(seed: number, row: number): Float32Array {
  const random = seededRandom(seed * 7_919 + row * 2_654_435_761);
  const v = new Float32Array(DIMENSIONS);
  let squares = 0;
  for (let i = 0; i < DIMENSIONS; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    v[i] = radius * Math.cos(angle);
    v[i + 1] = radius * Math.sin(angle);
    squares += v[i] * v[i] + v[i + 1] * v[i + 1];
  }
  const norm = Math.sqrt(squares);
  for (let i = 0; i < DIMENSIONS; i++) v[i] /= norm;
  return v;
}

/** A unit vector whose cosine with the unit vector `target` is `cosine`: another capture of the same face. */
export function nearDuplicate(target: Float32Array, cosine: number, noise: Float32Array): Float32Array {
  let along = 0;
  for (let i = 0; i < DIMENSIONS; i++) along += noise[i] * target[i];
  const across = noise.map((x, i) => x - along * target[i]);
  const norm = Math.hypot(...across);
  const side = Math.sqrt(1 - cosine * cosine);
  return target.map((x, i) => cosine * x + (side * across[i]) / norm);
}
