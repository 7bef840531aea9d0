import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store';
import type { NewImage } from '../../src/store/images';
import { EnrollmentConflict } from '../../src/store/users';
import { storeTask } from '../helpers/scans';

/** Every repository method that takes a client, called with the owner's client and with another one. */

const SPACE = { model: 'fr-feature', modelVersion: 'v1' };
const AT = '2026-11-29T06:00:00Z';

function image(key: string): NewImage {
  return { key, contentType: 'image/jpeg', fileSize: 16, width: 4, height: 4, createdAt: AT, original: randomBytes(16), cropped: randomBytes(8), analysis: '{}' };
}

/** A store where client `owner` has an enrolled user ada (with her photo), a spare upload and a scan. */
function ownedStore() {
  const store = Store.open({ dataDir: mkdtempSync(join(tmpdir(), 'facegate-tenants-')), busyTimeoutMs: 1000 });
  const enrolled = image('11111111-1111-4111-8111-111111111111');
  const spare = image('22222222-2222-4222-8222-222222222222');
  const template = { ...SPACE, embedding: new Float32Array([0.6, 0.8]) };
  store.users.enroll('owner', { username: 'ada', createdAt: AT, image: { upload: enrolled }, template }, () => undefined);
  store.images.insert('owner', spare);
  storeTask(store.scans, { id: 'task-1', client: 'owner', collection: 'collection-1', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
  store.scans.recordProfile('task-1', 0, { file: 'a.jpg' }, randomBytes(8), AT);
  return { store, enrolled, spare, template };
}

describe('repositories see only the named client’s rows', () => {
  it('reads: another client finds no image, user, template, original or task of the owner', () => {
    const { store, enrolled, spare } = ownedStore();
    const reads = (client: string) => ({
      metadata: store.images.metadata(client, spare.key)?.key,
      original: store.images.original(client, spare.key),
      crop: store.images.croppedOfUsed(client, enrolled.key),
      enrolledImage: store.images.isEnrolled(client, enrolled.key),
      exists: store.users.exists(client, 'ada'),
      user: store.users.metadata(client, 'ada')?.username,
      templates: store.users.templates(client, SPACE).length,
      templatesOf: store.users.templatesOf(client, 'ada', SPACE).length,
      originals: store.users.enrolledOriginals(client, 'ada').length,
      task: store.scans.task(client, 'task-1')?.id,
      collection: store.scans.taskOfCollection(client, 'collection-1')?.id,
    });
    expect(reads('owner')).toEqual({
      metadata: spare.key,
      original: spare.original,
      crop: enrolled.cropped,
      enrolledImage: true,
      exists: true,
      user: 'ada',
      templates: 1,
      templatesOf: 1,
      originals: 1,
      task: 'task-1',
      collection: 'task-1',
    });
    expect(reads('intruder')).toEqual({
      metadata: undefined,
      original: undefined,
      crop: undefined,
      enrolledImage: false,
      exists: false,
      user: undefined,
      templates: 0,
      templatesOf: 0,
      originals: 0,
      task: undefined,
      collection: undefined,
    });
    store.close();
  });

  it('writes: another client cannot mark, delete, replace or enroll with the owner’s rows, and may reuse the username', () => {
    const { store, spare, template } = ownedStore();
    store.images.markUsed('intruder', spare.key, AT);
    expect(store.images.metadata('owner', spare.key)?.usedAt).toBeNull();
    expect(store.users.delete('intruder', 'ada')).toBe(false);
    expect(store.scans.deleteCollection('intruder', 'collection-1')).toBe(false);
    store.users.replaceTemplates('intruder', 'ada', [{ imageKey: spare.key, template: { ...template, modelVersion: 'v2' } }], AT);
    expect(store.users.metadata('owner', 'ada')?.templates.map((t) => t.modelVersion)).toEqual(['v1']);
    const enrollWith = (key: string) => () => store.users.enroll('intruder', { username: 'eve', createdAt: AT, image: { key }, template }, () => undefined);
    expect(enrollWith(spare.key)).toThrow(new EnrollmentConflict('UNKNOWN_IMAGE_KEY'));
    store.users.enroll('intruder', { username: 'ada', createdAt: AT, image: { upload: image('33333333-3333-4333-8333-333333333333') }, template }, () => undefined);
    expect(store.users.exists('intruder', 'ada')).toBe(true);
    expect(() => store.users.enroll('owner', { username: 'ada', createdAt: AT, image: { upload: image('44444444-4444-4444-8444-444444444444') }, template }, () => undefined)).toThrow(
      new EnrollmentConflict('DUPLICATE_USERNAME'),
    );
    // templates:rebuild walks every client's users, each with its client.
    expect(store.users.outdated({ model: 'fr-feature', modelVersion: 'v2' }).map((u) => `${u.client}/${u.username}`)).toEqual(['owner/ada', 'intruder/ada']);
    store.close();
  });

  it('reset: a client scope erases that client’s users, images and scans only; all clients erases everything', () => {
    const { store, spare } = ownedStore();
    store.images.insert('other', image('55555555-5555-4555-8555-555555555555'));
    store.reset({ client: 'other' });
    expect(store.users.exists('owner', 'ada')).toBe(true);
    expect(store.images.metadata('owner', spare.key)).toBeDefined();
    expect(store.scans.thumbnail('task-1', 0)).toBeDefined();
    expect(store.db.prepare("SELECT COUNT(*) FROM images WHERE client = 'other'").pluck().get()).toBe(0);
    const count = (table: string) => store.db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    store.images.insert('other', image('66666666-6666-4666-8666-666666666666'));
    store.reset({ client: 'owner' });
    expect(['users', 'templates', 'images', 'tasks', 'scan_files'].map(count)).toEqual([0, 0, 1, 0, 0]);
    store.reset({ allClients: true });
    expect(count('images')).toBe(0);
    store.close();
  });
});
