import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { scaledTo } from '../../eval/transforms';
import { detectingFrom } from '../../src/pipeline/analyze';
import { inProcess } from '../../src/pipeline/analysis-pool';
import { enrollmentFlows, Rejection } from '../../src/service/enrollment';
import { openStore, type Store, type UserStore } from '../../src/store';
import { describeWithFaces, facePath } from '../helpers/faces';
import { useModels } from '../helpers/models';

const { config, options, models } = useModels();

/** `store`, but its first enrollment, once committed, returns only when `release` is called. */
function holdingFirstEnrollment(store: Store) {
  let committed!: () => void;
  let release!: () => void;
  const firstCommitted = new Promise<void>((resolve) => (committed = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let enrollments = 0;
  const users = new Proxy(store.users, {
    get(target, property) {
      if (property === 'enroll') {
        return async (...args: Parameters<UserStore['enroll']>) => {
          const change = await target.enroll(...args);
          if (enrollments++ === 0) {
            committed();
            await released;
          }
          return change;
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const held = new Proxy(store, {
    get(target, property) {
      if (property === 'users') return users;
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: held, firstCommitted, release };
}

describeWithFaces('the duplicate-search index during simultaneous enrollments', () => {
  it("refuses a second enrollment of a face whose first enrollment has committed but not yet reached the index", async () => {
    const store = await openStore({ ...config.store, dataDir: mkdtempSync(join(tmpdir(), 'facegate-index-race-')) });
    const { store: held, firstCommitted, release } = holdingFirstEnrollment(store);
    const analyzer = inProcess(models());
    let analysed = 0;
    let secondAnalysed!: () => void;
    const secondDone = new Promise<void>((resolve) => (secondAnalysed = resolve));
    const counting = {
      ...analyzer,
      analyze: async (...args: Parameters<typeof analyzer.analyze>) => {
        const analysis = await analyzer.analyze(...args);
        if (++analysed === 2) secondAnalysed();
        return analysis;
      },
    };
    const flows = enrollmentFlows({ config, analyzer: counting, store: held, options: detectingFrom(options, config.gate.fiqa.detection) });
    const photo = await scaledTo(readFileSync(facePath('deepface_img29.jpg')), 1024);

    const first = flows.enroll('default', 'alice', { bytes: photo });
    await firstCommitted;
    const second = flows.enroll('default', 'bob', { bytes: photo }).then(
      () => 'ENROLLED_AS_USER',
      (error: unknown) => (error instanceof Rejection ? error.reason : String(error)),
    );
    // Give the second enrollment every chance to search the index before the first one updates it.
    await secondDone;
    for (let turn = 0; turn < 50; turn++) await setImmediate();
    release();
    await first;
    expect(await second).toBe('FACE_ALREADY_ENROLLED');
    expect([await store.users.exists('default', 'alice'), await store.users.exists('default', 'bob')]).toEqual([true, false]);
    await store.close();
  });
});
