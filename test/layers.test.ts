import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../src/config';

const SRC = join(PROJECT_ROOT, 'src');

/** Every source file under src/, as a path relative to it, with the modules it imports (type-only imports left out). */
function valueImports(): { file: string; modules: string[] }[] {
  return readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      const text = readFileSync(path, 'utf8');
      const modules = [...text.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms)].map((m) => m[1]);
      return { file: relative(SRC, path), modules };
    });
}

describe('layers', () => {
  const files = valueImports();

  it('nothing outside src/store/ uses better-sqlite3 or a store backend directly', () => {
    const outside = files.filter(({ file }) => !file.startsWith('store/'));
    const offending = outside.filter(({ modules }) => modules.some((m) => m === 'better-sqlite3' || /\/store\/(sqlite|postgres)/.test(m)));
    expect(offending.map((f) => f.file)).toEqual([]);
  });

  it('the API adapters reach the store only through the service layer (types aside)', () => {
    const adapters = files.filter(({ file }) => file.startsWith('api/'));
    expect(adapters.length).toBeGreaterThan(5);
    const offending = adapters.filter(({ modules }) => modules.some((m) => m.startsWith('../store')));
    expect(offending.map((f) => f.file)).toEqual([]);
  });
});
