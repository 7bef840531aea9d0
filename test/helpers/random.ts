import { seededRandom } from '../../eval/random';

export { seededRandom };

/** A unit-length 64-d embedding drawn from `seed`: different seeds give faces that do not match. */
export function seededFace(seed: number): Float32Array {
  const random = seededRandom(seed);
  const values = Float32Array.from({ length: 64 }, () => random() - 0.5);
  const norm = Math.hypot(...values);
  return values.map((v) => v / norm);
}
