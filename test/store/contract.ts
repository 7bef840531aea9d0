import { randomBytes } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { EnrollmentConflict, type NewEnrollment, type NewImage, type Store } from '../../src/store';
import { startRetention } from '../../src/store/retention';
import { Sealer } from '../../src/store/sealer';
import { TEST_ENCRYPTION_KEY } from '../helpers/encryption';
import { seededFace as face } from '../helpers/random';
import { storeTask, TEST_LEASE } from '../helpers/scans';

/**
 * Opens a store on a new, empty database (sealing with `sealer`, in clear without one), or with
 * `sameDatabaseAs` another store on that store's database, as a restart would.
 */
export type OpenStore = (options?: { sealer?: Sealer; sameDatabaseAs?: Store }) => Promise<Store>;

const SPACE = { model: 'fr-feature', modelVersion: 'v1' };
const AT = '2026-11-29T06:00:00Z';
/** Image keys as FaceGate makes them (UUIDs): 11111111-1111-4111-8111-111111111111, 22222222-…, up to 9. */
const KEYS = Array.from({ length: 9 }, (_, i) => {
  const d = String(i + 1);
  return `${d.repeat(8)}-${d.repeat(4)}-4${d.repeat(3)}-8${d.repeat(3)}-${d.repeat(12)}`;
});

function image(key: string, createdAt = AT): NewImage {
  return { key, contentType: 'image/jpeg', fileSize: 4096, width: 64, height: 64, createdAt, original: randomBytes(4096), cropped: randomBytes(1024), analysis: '{}' };
}

const enrollment = (username: string, imageRef: NewEnrollment['image'], embedding = face(username.length), space = SPACE): NewEnrollment => ({
  username,
  createdAt: AT,
  image: imageRef,
  template: { ...space, embedding },
});

const noDuplicate = async (): Promise<string | undefined> => undefined;

const similarity = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * b[i], 0);

/**
 * A duplicate search as the enrollment service runs it: the client's templates read first, then a
 * turn of the event loop (the search's own awaits), then the verdict, so that two enrollments
 * started together both read before either writes unless `enroll` keeps them apart.
 */
function searchingDuplicates(store: Store, client: string, embedding: Float32Array) {
  return async () => {
    const templates = await store.users.templates(client, SPACE);
    await setImmediate();
    return templates.find((t) => similarity(t.embedding, embedding) > 0.9)?.username;
  };
}

/** The same checks on every backend: each contract method, tenants, encryption at rest, resets, retention, enrollment conflicts and races. */
export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`${name} store contract`, () => {
    const opened: Store[] = [];
    const fresh = async (options?: Parameters<OpenStore>[0]) => {
      const store = await open(options);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });

    describe('the database', () => {
      it('is migrated, writable, keeps its schema version across a reopening, and is not writable once closed', async () => {
        const store = await fresh();
        expect(store.backend).toBe(name);
        const version = await store.schemaVersion();
        expect(version).toBeGreaterThan(0);
        expect(await store.isWritable()).toBe(true);
        await store.images.insert('default', image(KEYS[0]));
        await store.close();
        const again = await fresh({ sameDatabaseAs: store });
        expect(await again.schemaVersion()).toBe(version);
        expect((await again.images.metadata('default', KEYS[0]))?.key).toBe(KEYS[0]);
        expect(await store.isWritable()).toBe(false);
      });
    });

    describe('images', () => {
      it('stores an upload by key: metadata, original, crop once used (first use kept), enrolled or not', async () => {
        const store = await fresh();
        const upload = image(KEYS[0]);
        await store.images.insert('default', upload);
        expect(await store.images.metadata('default', KEYS[0])).toEqual({ key: KEYS[0], contentType: 'image/jpeg', fileSize: 4096, width: 64, height: 64, createdAt: AT, usedAt: null });
        expect(await store.images.original('default', KEYS[0])).toEqual(upload.original);
        expect(await store.images.croppedOfUsed('default', KEYS[0])).toBeUndefined();
        await store.images.markUsed('default', KEYS[0], '2026-11-29T07:00:00Z');
        await store.images.markUsed('default', KEYS[0], '2026-11-29T08:00:00Z');
        expect((await store.images.metadata('default', KEYS[0]))?.usedAt).toBe('2026-11-29T07:00:00Z');
        expect(await store.images.croppedOfUsed('default', KEYS[0])).toEqual(upload.cropped);
        expect(await store.images.isEnrolled('default', KEYS[0])).toBe(false);
        expect(await store.images.metadata('default', KEYS[1])).toBeUndefined();
        expect(await store.images.original('default', KEYS[1])).toBeUndefined();
      });
    });

    describe('users', () => {
      it('enrolls from an upload or a stored image, and reads metadata, templates per space, originals and outdated users', async () => {
        const store = await fresh();
        const photo = image(KEYS[0]);
        await store.users.enroll('default', enrollment('ada', { upload: photo }, face(1)), noDuplicate);
        const stored = image(KEYS[1]);
        await store.images.insert('default', stored);
        await store.users.enroll('default', enrollment('bo', { key: KEYS[1] }, face(2), { model: 'fr-feature', modelVersion: 'v0' }), noDuplicate);

        expect(await store.users.exists('default', 'ada')).toBe(true);
        expect(await store.users.exists('default', 'cy')).toBe(false);
        expect(await store.users.metadata('default', 'ada')).toEqual({ username: 'ada', createdAt: AT, templates: [{ ...SPACE, createdAt: AT }], imageKeys: [KEYS[0]] });
        expect(await store.users.metadata('default', 'cy')).toBeUndefined();
        expect(await store.images.isEnrolled('default', KEYS[0])).toBe(true);
        expect(await store.images.isEnrolled('default', KEYS[1])).toBe(true);
        expect((await store.images.metadata('default', KEYS[1]))?.usedAt).toBe(AT);
        expect(await store.users.templates('default', SPACE)).toEqual([{ username: 'ada', embedding: face(1) }]);
        expect(await store.users.templatesOf('default', 'ada', SPACE)).toEqual([face(1)]);
        expect(await store.users.templatesOf('default', 'bo', SPACE)).toEqual([]);
        expect(await store.users.enrolledOriginals('default', 'ada')).toEqual([photo.original]);
        expect(await store.users.enrolledOriginals('default', 'bo')).toEqual([stored.original]);
        expect(await store.users.outdated(SPACE)).toEqual([{ client: 'default', username: 'bo', templates: [{ id: expect.any(Number), imageKey: KEYS[1] }] }]);
      });

      it('replaces a user’s templates in one go, and deletes a user with their templates and images', async () => {
        const store = await fresh();
        await store.users.enroll('default', enrollment('ada', { upload: image(KEYS[0]) }, face(1), { model: 'fr-feature', modelVersion: 'v0' }), noDuplicate);
        await store.users.replaceTemplates('default', 'ada', [{ imageKey: KEYS[0], template: { ...SPACE, embedding: face(3) } }], '2026-11-29T07:00:00Z');
        expect(await store.users.outdated(SPACE)).toEqual([]);
        expect(await store.users.templatesOf('default', 'ada', SPACE)).toEqual([face(3)]);
        expect((await store.users.metadata('default', 'ada'))?.templates).toEqual([{ ...SPACE, createdAt: '2026-11-29T07:00:00Z' }]);

        expect(await store.users.delete('default', 'ada')).toBe(true);
        expect(await store.users.delete('default', 'ada')).toBe(false);
        expect(await store.users.exists('default', 'ada')).toBe(false);
        expect(await store.users.templates('default', SPACE)).toEqual([]);
        expect(await store.images.metadata('default', KEYS[0])).toBeUndefined();
      });
    });

    describe('enrollment conflicts', () => {
      it('refuses each conflict with its reason and writes nothing of it', async () => {
        const store = await fresh();
        await store.users.enroll('default', enrollment('ada', { upload: image(KEYS[0]) }, face(1)), noDuplicate);
        await store.images.insert('default', image(KEYS[1]));
        const refused = async (enrolled: NewEnrollment, duplicateOf = noDuplicate) => {
          const error = await store.users.enroll('default', enrolled, duplicateOf).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(EnrollmentConflict);
          return error as EnrollmentConflict;
        };

        expect((await refused(enrollment('ada', { upload: image(KEYS[2]) }, face(2)))).reason).toBe('DUPLICATE_USERNAME');
        expect((await refused(enrollment('bo', { key: KEYS[3] }, face(2)))).reason).toBe('UNKNOWN_IMAGE_KEY');
        expect((await refused(enrollment('bo', { key: KEYS[0] }, face(2)))).reason).toBe('IMAGE_KEY_TAKEN');
        const duplicate = await refused(enrollment('bo', { upload: image(KEYS[4]) }, face(1)), searchingDuplicates(store, 'default', face(1)));
        expect([duplicate.reason, duplicate.otherUser]).toEqual(['FACE_ALREADY_ENROLLED', 'ada']);
        const viaKey = await refused(enrollment('bo', { key: KEYS[1] }, face(1)), searchingDuplicates(store, 'default', face(1)));
        expect(viaKey.reason).toBe('FACE_ALREADY_ENROLLED');

        expect(await store.users.exists('default', 'bo')).toBe(false);
        for (const key of [KEYS[2], KEYS[4]]) expect(await store.images.metadata('default', key)).toBeUndefined();
        expect(await store.images.isEnrolled('default', KEYS[1])).toBe(false);
        expect(await store.users.templates('default', SPACE)).toEqual([{ username: 'ada', embedding: face(1) }]);
      });

      it('lets exactly one of two simultaneous enrollments of one face under two usernames pass', async () => {
        const store = await fresh();
        const outcomes = await Promise.allSettled(
          ['ada', 'bo'].map((username, i) => store.users.enroll('default', enrollment(username, { upload: image(KEYS[i]) }, face(1)), searchingDuplicates(store, 'default', face(1)))),
        );
        expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
        const loser = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(loser?.reason).toBeInstanceOf(EnrollmentConflict);
        expect([loser?.reason.reason, loser?.reason.otherUser]).toEqual(['FACE_ALREADY_ENROLLED', expect.stringMatching(/^(ada|bo)$/)]);
        expect((await store.users.templates('default', SPACE)).length).toBe(1);
      });

      it('lets exactly one of two simultaneous enrollments of one username pass', async () => {
        const store = await fresh();
        const outcomes = await Promise.allSettled(
          [1, 2].map((seed, i) => store.users.enroll('default', enrollment('ada', { upload: image(KEYS[i]) }, face(seed)), searchingDuplicates(store, 'default', face(seed)))),
        );
        expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
        const loser = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(loser?.reason).toBeInstanceOf(EnrollmentConflict);
        expect(loser?.reason.reason).toBe('DUPLICATE_USERNAME');
        expect((await store.users.templates('default', SPACE)).length).toBe(1);
        expect((await store.users.metadata('default', 'ada'))?.imageKeys).toHaveLength(1);
      });

      it('keeps clients apart: the same face and username enroll in two clients at once', async () => {
        const store = await fresh();
        await Promise.all(
          ['owner', 'other'].map((client, i) => store.users.enroll(client, enrollment('ada', { upload: image(KEYS[i]) }, face(1)), searchingDuplicates(store, client, face(1)))),
        );
        for (const client of ['owner', 'other']) expect(await store.users.exists(client, 'ada')).toBe(true);
      });
    });

    describe('template changes', () => {
      const named = (changes: { client: string | null; username: string | null }[]) => changes.map(({ client, username }) => [client, username]);

      it('records every enrollment, replacement, erasure and reset in commit order, nothing for a refused one; a reset erases the changes naming its users', async () => {
        const store = await fresh();
        expect(await store.users.latestChange()).toBe(0);
        const enrolled = [
          await store.users.enroll('owner', enrollment('ada', { upload: image(KEYS[0]) }, face(1)), noDuplicate),
          await store.users.enroll('other', enrollment('bo', { upload: image(KEYS[1]) }, face(2)), noDuplicate),
        ];
        await store.users.replaceTemplates('owner', 'ada', [{ imageKey: KEYS[0], template: { model: 'fr-feature', modelVersion: 'v2', embedding: face(3) } }], AT);
        await store.users.delete('other', 'bo');
        await expect(store.users.enroll('owner', enrollment('ada', { upload: image(KEYS[2]) }, face(4)), noDuplicate)).rejects.toThrow(EnrollmentConflict);
        expect(await store.users.delete('other', 'bo')).toBe(false);
        const changes = await store.users.changesAfter(0, 10);
        expect(named(changes)).toEqual([
          ['owner', 'ada'],
          ['other', 'bo'],
          ['owner', 'ada'],
          ['other', 'bo'],
        ]);
        const ids = changes.map((c) => c.id);
        expect([...ids].sort((a, b) => a - b)).toEqual(ids);
        expect(new Set(ids).size).toBe(4);
        expect(enrolled).toEqual(ids.slice(0, 2));
        expect(await store.users.latestChange()).toBe(ids[3]);
        expect(await store.users.changesAfter(ids[1], 1)).toEqual([changes[2]]);

        await store.reset({ client: 'other' });
        expect(named(await store.users.changesAfter(0, 10))).toEqual([
          ['owner', 'ada'],
          ['owner', 'ada'],
          ['other', null],
        ]);
        await store.reset({ allClients: true });
        const [reset, ...rest] = await store.users.changesAfter(0, 10);
        expect([reset.client, reset.username, rest]).toEqual([null, null, []]);
        expect(reset.id).toBeGreaterThan(ids[3]);
      });

      it('erases changes recorded before a cutoff but the latest, and never numbers a later change with an erased number', async () => {
        const store = await fresh();
        await store.users.enroll('owner', enrollment('ada', { upload: image(KEYS[0]) }, face(1)), noDuplicate);
        await store.users.enroll('owner', enrollment('bo', { upload: image(KEYS[1]) }, face(2)), noDuplicate);
        const latest = await store.users.latestChange();
        expect(await store.users.eraseChangesBefore(new Date(Date.now() - 60_000))).toBe(0);
        expect(await store.users.eraseChangesBefore(new Date(Date.now() + 60_000))).toBe(1);
        expect(await store.users.changesAfter(0, 10)).toEqual([{ id: latest, client: 'owner', username: 'bo' }]);
        expect(await store.users.eraseChangesBefore(new Date(Date.now() + 60_000))).toBe(0);
        await store.users.delete('owner', 'bo');
        expect((await store.users.changesAfter(0, 10)).map((c) => c.id)).toEqual([latest, latest + 1]);
      });
    });

    describe('scans', () => {
      it('takes an intake in batches, hands out pending files, records results and reads them back', async () => {
        const store = await fresh();
        const files = [0, 1, 2].map((i) => ({ name: `${i}.jpg`, bytes: randomBytes(256) }));
        await store.scans.beginIntake({ id: 'task-1', client: 'default', collection: 'collection-1', createdAt: '2026-11-29T06:00:00.000Z' });
        await store.scans.addFiles('task-1', 0, files.slice(0, 2));
        await store.scans.addFiles('task-1', 2, files.slice(2));
        await store.scans.completeIntake('task-1', 3);
        const pending = await store.scans.task('default', 'task-1');
        expect(pending).toMatchObject({ id: 'task-1', client: 'default', collection: 'collection-1', status: 'pending', total: 3, processed: 0, failure: null, startedAt: null, finishedAt: null });
        expect((await store.scans.taskOfCollection('default', 'collection-1'))?.id).toBe('task-1');
        expect((await store.scans.unfinished()).map((t) => t.id)).toEqual(['task-1']);

        const [a, b] = [{ holder: 'scanner-a', seconds: 60 }, { holder: 'scanner-b', seconds: 60 }];
        expect(await store.scans.claimNext(a, '2026-11-29T06:00:01.000Z')).toEqual({ taskId: 'task-1', client: 'default', position: 0, name: '0.jpg', bytes: files[0].bytes, attempts: 1 });
        expect(await store.scans.task('default', 'task-1')).toMatchObject({ status: 'running', startedAt: '2026-11-29T06:00:01.000Z', startedProcessed: 0 });
        // A leased file goes to nobody else until its lease runs out; then it is taken again and the attempt counted.
        expect((await store.scans.claimNext(b, '2026-11-29T06:00:01.500Z'))?.position).toBe(1);
        expect((await store.scans.claimNext(a, '2026-11-29T06:00:01.600Z'))?.position).toBe(2);
        expect(await store.scans.claimNext(b, '2026-11-29T06:00:30.000Z')).toBeUndefined();
        expect(await store.scans.claimNext(b, '2026-11-29T06:01:01.001Z')).toMatchObject({ position: 0, attempts: 2 });
        const thumbnail = randomBytes(128);
        expect(await store.scans.recordProfile('task-1', 0, { file: '0.jpg', face_count: 1 }, thumbnail, '2026-11-29T06:01:02.000Z')).toBe('counted');
        expect(await store.scans.recordProfile('task-1', 1, { file: '1.jpg', face_count: 0 }, null, '2026-11-29T06:01:03.000Z')).toBe('counted');
        // A file already settled stays as it was, is not counted again, and is no longer handed out.
        expect(await store.scans.recordFailure('task-1', 0, 'late', '2026-11-29T06:01:04.000Z')).toBe('stale');
        expect(await store.scans.task('default', 'task-1')).toMatchObject({ status: 'running', processed: 2 });
        // The last file settled finishes the task.
        expect(await store.scans.recordFailure('task-1', 2, 'not an image', '2026-11-29T06:01:05.000Z')).toBe('finished');
        expect(await store.scans.claimNext(a, '2026-11-29T07:00:00.000Z')).toBeUndefined();

        expect(await store.scans.task('default', 'task-1')).toMatchObject({ status: 'done', processed: 3, finishedAt: '2026-11-29T06:01:05.000Z' });
        expect(await store.scans.errors('task-1')).toEqual([{ file: '2.jpg', error: 'not an image' }]);
        expect(await store.scans.profileCount('task-1')).toBe(2);
        expect(await store.scans.profiles('task-1')).toEqual([
          { position: 0, name: '0.jpg', profile: { file: '0.jpg', face_count: 1 } },
          { position: 1, name: '1.jpg', profile: { file: '1.jpg', face_count: 0 } },
        ]);
        expect((await store.scans.profiles('task-1', 1)).map((p) => p.position)).toEqual([1]);
        expect((await store.scans.profiles('task-1', 0, 1)).map((p) => p.position)).toEqual([0]);
        expect(await store.scans.thumbnail('task-1', 0)).toEqual(thumbnail);
        expect(await store.scans.thumbnail('task-1', 1)).toBeUndefined();

        expect(await store.scans.unfinished()).toEqual([]);
        expect(await store.scans.deleteCollection('default', 'collection-1')).toBe(true);
        expect(await store.scans.deleteCollection('default', 'collection-1')).toBe(false);
        expect(await store.scans.task('default', 'task-1')).toBeUndefined();
      });

      it('hands out the oldest task first, never a file of an incomplete intake, and takes back the files of a released lease', async () => {
        const store = await fresh();
        await store.scans.beginIntake({ id: 'in-intake', client: 'default', collection: 'c0', createdAt: '2026-11-29T05:00:00.000Z' });
        await store.scans.addFiles('in-intake', 0, [{ name: 'x.jpg', bytes: randomBytes(8) }]);
        await storeTask(store.scans, { id: 'newer', client: 'other', collection: 'c2', createdAt: '2026-11-29T06:00:01.000Z' }, [{ name: 'b.jpg', bytes: randomBytes(8) }]);
        await storeTask(store.scans, { id: 'older', client: 'default', collection: 'c1', createdAt: '2026-11-29T06:00:00.000Z' }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
        const [a, b] = [{ holder: 'scanner-a', seconds: 60 }, { holder: 'scanner-b', seconds: 60 }];
        expect(await store.scans.claimNext(a, AT)).toMatchObject({ taskId: 'older', client: 'default', name: 'a.jpg' });
        expect(await store.scans.claimNext(a, AT)).toMatchObject({ taskId: 'newer', client: 'other', name: 'b.jpg' });
        expect(await store.scans.claimNext(b, AT)).toBeUndefined();
        await store.scans.releaseLeases('scanner-b');
        expect(await store.scans.claimNext(b, AT)).toBeUndefined();
        await store.scans.releaseLeases('scanner-a');
        expect(await store.scans.claimNext(b, AT)).toMatchObject({ taskId: 'older', attempts: 2 });
      });

      it('fails a task with its reason once, hands out none of its files, and erases intakes abandoned for an hour', async () => {
        const store = await fresh();
        await storeTask(store.scans, { id: 'task-1', client: 'default', collection: 'c1', createdAt: '2026-11-29T06:00:00.000Z' }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
        expect(await store.scans.fail('task-1', 'the models could not be loaded', '2026-11-29T06:00:01.000Z')).toBe(true);
        expect(await store.scans.fail('task-1', 'again', '2026-11-29T06:00:02.000Z')).toBe(false);
        expect(await store.scans.task('default', 'task-1')).toMatchObject({ status: 'failed', failure: 'the models could not be loaded', finishedAt: '2026-11-29T06:00:01.000Z' });
        expect(await store.scans.claimNext({ holder: 'scanner-a', seconds: 60 }, AT)).toBeUndefined();

        await store.scans.beginIntake({ id: 'cut-short', client: 'default', collection: 'c2', createdAt: '2026-11-29T06:00:02.000Z' });
        await store.scans.addFiles('cut-short', 0, [{ name: 'b.jpg', bytes: randomBytes(8) }]);
        await storeTask(store.scans, { id: 'task-2', client: 'default', collection: 'c3', createdAt: '2026-11-29T06:00:03.000Z' }, [{ name: 'c.jpg', bytes: randomBytes(8) }]);
        expect(await store.scans.reclaimAbandoned(new Date('2026-11-29T07:00:03.000Z'))).toBe(1);
        expect(await store.scans.task('default', 'cut-short')).toBeUndefined();
        expect(await store.scans.task('default', 'task-1')).toBeDefined();
      });
    });

    describe('tenants', () => {
      /** Client `owner` has an enrolled user ada (with her photo), a spare upload and a profiled scan. */
      async function ownedStore() {
        const store = await fresh();
        const enrolled = image(KEYS[0]);
        const spare = image(KEYS[1]);
        await store.users.enroll('owner', enrollment('ada', { upload: enrolled }, face(1)), noDuplicate);
        await store.images.insert('owner', spare);
        await storeTask(store.scans, { id: 'task-1', client: 'owner', collection: 'collection-1', createdAt: AT }, [{ name: 'a.jpg', bytes: randomBytes(8) }]);
        await store.scans.recordProfile('task-1', 0, { file: 'a.jpg' }, randomBytes(8), AT);
        return { store, enrolled, spare };
      }

      it('reads: another client finds no image, user, template, original or task of the owner', async () => {
        const { store, enrolled, spare } = await ownedStore();
        const reads = async (client: string) => ({
          metadata: (await store.images.metadata(client, spare.key))?.key,
          original: await store.images.original(client, spare.key),
          crop: await store.images.croppedOfUsed(client, enrolled.key),
          enrolledImage: await store.images.isEnrolled(client, enrolled.key),
          exists: await store.users.exists(client, 'ada'),
          user: (await store.users.metadata(client, 'ada'))?.username,
          templates: (await store.users.templates(client, SPACE)).length,
          templatesOf: (await store.users.templatesOf(client, 'ada', SPACE)).length,
          originals: (await store.users.enrolledOriginals(client, 'ada')).length,
          task: (await store.scans.task(client, 'task-1'))?.id,
          collection: (await store.scans.taskOfCollection(client, 'collection-1'))?.id,
        });
        expect(await reads('owner')).toEqual({
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
        expect(await reads('intruder')).toEqual({
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
      });

      it('writes: another client cannot mark, delete, replace or enroll with the owner’s rows, and may reuse the username', async () => {
        const { store, spare } = await ownedStore();
        await store.images.markUsed('intruder', spare.key, AT);
        expect((await store.images.metadata('owner', spare.key))?.usedAt).toBeNull();
        expect(await store.users.delete('intruder', 'ada')).toBe(false);
        expect(await store.scans.deleteCollection('intruder', 'collection-1')).toBe(false);
        await store.users.replaceTemplates('intruder', 'ada', [{ imageKey: spare.key, template: { ...SPACE, modelVersion: 'v2', embedding: face(1) } }], AT);
        expect((await store.users.metadata('owner', 'ada'))?.templates.map((t) => t.modelVersion)).toEqual(['v1']);
        await expect(store.users.enroll('intruder', enrollment('eve', { key: spare.key }), noDuplicate)).rejects.toMatchObject({ reason: 'UNKNOWN_IMAGE_KEY' });
        await store.users.enroll('intruder', enrollment('ada', { upload: image(KEYS[2]) }), noDuplicate);
        expect(await store.users.exists('intruder', 'ada')).toBe(true);
        await expect(store.users.enroll('owner', enrollment('ada', { upload: image(KEYS[3]) }), noDuplicate)).rejects.toMatchObject({ reason: 'DUPLICATE_USERNAME' });
        // templates:rebuild walks every client's users, each with its client.
        expect((await store.users.outdated({ model: 'fr-feature', modelVersion: 'v2' })).map((u) => `${u.client}/${u.username}`)).toEqual(['owner/ada', 'intruder/ada']);
      });

      it('reset: a client scope erases that client’s users, images and scans only; all clients erases everything', async () => {
        const { store, spare, enrolled } = await ownedStore();
        await store.images.insert('other', image(KEYS[4]));
        await store.users.enroll('other', enrollment('bo', { upload: image(KEYS[5]) }, face(2)), noDuplicate);
        await storeTask(store.scans, { id: 'task-2', client: 'other', collection: 'collection-2', createdAt: AT }, [{ name: 'b.jpg', bytes: randomBytes(8) }]);
        await store.reset({ client: 'other' });
        expect(await store.images.metadata('other', KEYS[4])).toBeUndefined();
        expect(await store.users.exists('other', 'bo')).toBe(false);
        expect(await store.scans.task('other', 'task-2')).toBeUndefined();
        expect(await store.users.exists('owner', 'ada')).toBe(true);
        expect(await store.images.metadata('owner', spare.key)).toBeDefined();
        expect(await store.scans.thumbnail('task-1', 0)).toBeDefined();

        await store.images.insert('other', image(KEYS[6]));
        await store.reset({ client: 'owner' });
        expect(await store.users.exists('owner', 'ada')).toBe(false);
        expect(await store.users.templates('owner', SPACE)).toEqual([]);
        for (const key of [spare.key, enrolled.key]) expect(await store.images.metadata('owner', key)).toBeUndefined();
        expect(await store.scans.task('owner', 'task-1')).toBeUndefined();
        expect(await store.scans.thumbnail('task-1', 0)).toBeUndefined();
        expect(await store.images.metadata('other', KEYS[6])).toBeDefined();

        await store.reset({ allClients: true });
        expect(await store.images.metadata('other', KEYS[6])).toBeUndefined();
      });
    });

    describe('retention', () => {
      it('erases images never enrolled uploaded before the cutoff, of every client, and keeps newer and enrolled ones', async () => {
        const store = await fresh();
        await store.images.insert('default', image(KEYS[0], '2026-11-22T05:00:00Z'));
        await store.images.insert('other', image(KEYS[1], '2026-11-22T04:00:00Z'));
        await store.images.insert('other', image(KEYS[2], '2026-11-23T05:00:00Z'));
        await store.users.enroll('default', { ...enrollment('bob', { upload: image(KEYS[3], '2026-11-20T05:00:00Z') }), createdAt: '2026-11-20T05:00:00Z' }, noDuplicate);

        expect(await store.images.eraseUnenrolledBefore(new Date('2026-11-22T06:00:00Z'))).toBe(2);
        expect(await store.images.metadata('default', KEYS[0])).toBeUndefined();
        expect(await store.images.metadata('other', KEYS[1])).toBeUndefined();
        expect(await store.images.metadata('other', KEYS[2])).toBeDefined();
        expect(await store.images.metadata('default', KEYS[3])).toBeDefined();
      });

      it('erases scans that finished (done or failed) before the cutoff, and keeps newer and unfinished ones; the sweep runs at start', async () => {
        const store = await fresh();
        const HOUR_MS = 3_600_000;
        const ago = (hours: number) => new Date(Date.now() - hours * HOUR_MS).toISOString();
        const scan = async (id: string, end?: { finishedAt: string; as: 'done' | 'failed' }) => {
          await storeTask(store.scans, { id, client: 'default', collection: `${id}-c`, createdAt: ago(400) }, [{ name: 'a.jpg', bytes: randomBytes(64) }]);
          if (end?.as === 'done') await store.scans.recordProfile(id, 0, { file: 'a.jpg' }, null, end.finishedAt);
          if (end?.as === 'failed') await store.scans.fail(id, 'stopped', end.finishedAt);
        };
        await scan('old-done', { finishedAt: ago(200), as: 'done' });
        await scan('old-failed', { finishedAt: ago(200), as: 'failed' });
        await scan('recent', { finishedAt: ago(100), as: 'done' });
        await scan('unfinished');
        expect(await store.scans.eraseFinishedBefore(new Date(Date.now() - 150 * HOUR_MS))).toBe(2);
        expect(await store.scans.task('default', 'old-done')).toBeUndefined();
        expect(await store.scans.task('default', 'old-failed')).toBeUndefined();
        expect((await store.scans.task('default', 'recent'))?.status).toBe('done');
        expect((await store.scans.task('default', 'unfinished'))?.status).toBe('pending');

        await store.images.insert('default', image(KEYS[0], ago(25).replace(/\.\d{3}Z$/, 'Z')));
        const erased: unknown[] = [];
        const stop = await startRetention(store, { unenrolledImageHours: 24, scanHours: 72 }, (counts) => erased.push(counts), (error) => erased.push(error));
        stop();
        expect(erased).toEqual([{ images: 1, scans: 1 }]);
      });
    });

    describe('encryption at rest', () => {
      const sealer = () => Sealer.fromKeyText(TEST_ENCRYPTION_KEY);

      it('reads back what it sealed, and the same database opened without the key refuses every sealed blob', async () => {
        const store = await fresh({ sealer: sealer() });
        const upload = image(KEYS[0]);
        await store.users.enroll('default', enrollment('ada', { upload }, face(1)), noDuplicate);
        const file = randomBytes(512);
        const thumbnail = randomBytes(128);
        await storeTask(store.scans, { id: 'task-1', client: 'default', collection: 'c1', createdAt: AT }, [{ name: 'a.jpg', bytes: file }, { name: 'b.jpg', bytes: randomBytes(8) }]);
        await store.scans.recordProfile('task-1', 1, { file: 'b.jpg' }, thumbnail, AT);
        expect(await store.images.original('default', KEYS[0])).toEqual(upload.original);
        expect(await store.images.croppedOfUsed('default', KEYS[0])).toEqual(upload.cropped);
        expect(await store.users.templatesOf('default', 'ada', SPACE)).toEqual([face(1)]);
        expect((await store.scans.claimNext(TEST_LEASE, AT))?.bytes).toEqual(file);
        expect(await store.scans.thumbnail('task-1', 1)).toEqual(thumbnail);

        const keyless = await fresh({ sameDatabaseAs: store });
        const encrypted = 'is encrypted: set FACEGATE_ENCRYPTION_KEY';
        await expect(keyless.images.original('default', KEYS[0])).rejects.toThrow(`images:${KEYS[0]}:original ${encrypted}`);
        await expect(keyless.images.croppedOfUsed('default', KEYS[0])).rejects.toThrow(`images:${KEYS[0]}:cropped ${encrypted}`);
        await expect(keyless.users.templates('default', SPACE)).rejects.toThrow(/^templates:\d+:embedding is encrypted/);
        // The lease taken above has run out by then.
        await expect(keyless.scans.claimNext(TEST_LEASE, '2026-11-29T07:00:00Z')).rejects.toThrow(`scan_files:task-1/0:content ${encrypted}`);
        await expect(keyless.scans.thumbnail('task-1', 1)).rejects.toThrow(`scan_files:task-1/1:thumbnail ${encrypted}`);
      });

      it('refuses, naming the row, what was stored in clear once a key is set', async () => {
        const plain = await fresh();
        await plain.users.enroll('default', enrollment('ada', { upload: image(KEYS[0]) }, face(1)), noDuplicate);
        const keyed = await fresh({ sealer: sealer(), sameDatabaseAs: plain });
        await expect(keyed.images.original('default', KEYS[0])).rejects.toThrow(`images:${KEYS[0]}:original is stored in clear although FACEGATE_ENCRYPTION_KEY is set`);
        await expect(keyed.users.templatesOf('default', 'ada', SPACE)).rejects.toThrow(/^templates:\d+:embedding is stored in clear/);
        await expect(keyed.users.enrolledOriginals('default', 'ada')).rejects.toThrow(`images:${KEYS[0]}:original is stored in clear`);
      });
    });
  });
}
