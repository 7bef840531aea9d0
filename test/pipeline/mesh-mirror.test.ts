import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MESH_MIRROR } from '../../src/pipeline/mesh-mirror';

/** MediaPipe's canonical UVs as Human ships them in its TypeScript sources, read as text. */
function canonicalUvs(): [number, number][] {
  const root = (require.resolve.paths('@vladmandic/human') ?? []).map((d) => join(d, '@vladmandic', 'human')).find((d) => existsSync(d));
  const source = readFileSync(join(root as string, 'src', 'face', 'facemeshcoords.ts'), 'utf8');
  const block = source.slice(source.indexOf('UV468'), source.indexOf('];', source.indexOf('UV468')));
  return [...block.matchAll(/\[([\d.e-]+),\s*([\d.e-]+)\]/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe('MESH_MIRROR', () => {
  it('pairs each landmark with the one nearest its mirror position in the canonical face', () => {
    const uvs = canonicalUvs();
    expect(uvs).toHaveLength(468);
    const derived = uvs.map(([u, v]) => {
      let best = -1;
      let bestDistance = Infinity;
      uvs.forEach(([u2, v2], j) => {
        const d = (u2 - (1 - u)) ** 2 + (v2 - v) ** 2;
        if (d < bestDistance) [best, bestDistance] = [j, d];
      });
      return best;
    });
    expect(MESH_MIRROR).toEqual(derived);
  });

  it('is its own inverse and swaps the known eye and mouth corners', () => {
    MESH_MIRROR.forEach((j, i) => expect(MESH_MIRROR[j]).toBe(i));
    expect([MESH_MIRROR[33], MESH_MIRROR[133], MESH_MIRROR[61], MESH_MIRROR[1]]).toEqual([263, 362, 291, 1]);
  });
});
