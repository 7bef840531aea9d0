import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { DuplicateSearch } from '../../src/service/duplicate-search';
import { TemplateFeed } from '../../src/service/template-feed';
import { openStore, type Store } from '../../src/store';
import { seededFace as face } from '../helpers/random';

const SPACE = { model: 'fr-feature', modelVersion: 'v1' };
const AT = '2026-11-29T06:00:00Z';
const { duplicateIndex } = loadConfig({}).recognition;

const upload = () => ({ key: randomUUID(), contentType: 'image/jpeg', fileSize: 64, width: 8, height: 8, createdAt: AT, original: randomBytes(64), cropped: randomBytes(16), analysis: '{}' });

/** Enrolls `username` of client `owner` with `embedding`; the key of its image. */
async function enroll(store: Store, username: string, embedding: Float32Array): Promise<string> {
  const image = upload();
  await store.users.enroll('owner', { username, createdAt: AT, image: { upload: image }, template: { ...SPACE, embedding } }, async () => undefined);
  return image.key;
}

/**
 * This process's duplicate search and its feed over one SQLite database, and `other`: a second
 * store on the same file, standing for another process writing behind its back (templates:rebuild
 * beside the server; on PostgreSQL, another replica, in test/store/postgres-replicas.test.ts).
 */
async function twoProcesses() {
  const dataDir = mkdtempSync(join(tmpdir(), 'facegate-feed-'));
  const mine = await openStore({ dataDir, busyTimeoutMs: 1000 });
  const other = await openStore({ dataDir, busyTimeoutMs: 1000 });
  const search = new DuplicateSearch(duplicateIndex, (client) => mine.users.templates(client, SPACE));
  const feed = new TemplateFeed(mine.users, SPACE, search);
  const duplicateOf = (embedding: Float32Array) => search.duplicateOf('owner', embedding, 0.9);
  return { mine, other, search, feed, duplicateOf, close: () => Promise.all([mine.close(), other.close()]) };
}

describe('TemplateFeed', () => {
  it("brings the index in step with another process's enrollments, template replacements, erasures and resets", async () => {
    const { other, feed, duplicateOf, close } = await twoProcesses();
    await feed.catchUp();
    expect(await duplicateOf(face(1))).toBeUndefined();

    const key = await enroll(other, 'ada', face(1));
    // Unseen until the feed is read: what the feed is for.
    expect(await duplicateOf(face(1))).toBeUndefined();
    await feed.catchUp();
    expect(await duplicateOf(face(1))).toBe('ada');

    await other.users.replaceTemplates('owner', 'ada', [{ imageKey: key, template: { ...SPACE, embedding: face(2) } }], AT);
    await feed.catchUp();
    expect([await duplicateOf(face(1)), await duplicateOf(face(2))]).toEqual([undefined, 'ada']);

    await other.users.delete('owner', 'ada');
    await enroll(other, 'bo', face(3));
    await feed.catchUp();
    expect([await duplicateOf(face(2)), await duplicateOf(face(3))]).toEqual([undefined, 'bo']);

    await other.reset({ client: 'owner' });
    await feed.catchUp();
    expect(await duplicateOf(face(3))).toBeUndefined();
    await close();
  });

  it("passes the changes this process applied as it committed them without reading their templates again, and reads the others'", async () => {
    const { mine, other, search, feed, duplicateOf, close } = await twoProcesses();
    await feed.catchUp();
    expect(await duplicateOf(face(1))).toBeUndefined();
    const change = await mine.users.enroll('owner', { username: 'ada', createdAt: AT, image: { upload: upload() }, template: { ...SPACE, embedding: face(1) } }, async () => undefined);
    search.apply({ kind: 'enrolled', client: 'owner', username: 'ada', embedding: face(1) });
    feed.applied(change);
    await enroll(other, 'bo', face(2));
    const reads = jest.spyOn(mine.users, 'templatesOf');
    await feed.catchUp();
    expect(reads.mock.calls.map(([, username]) => username)).toEqual(['bo']);
    expect([await duplicateOf(face(1)), await duplicateOf(face(2))]).toEqual(['ada', 'bo']);
    await close();
  });

  it('reads every index afresh when changes after the last it applied were erased unread', async () => {
    const { other, feed, duplicateOf, close } = await twoProcesses();
    await feed.catchUp();
    expect(await duplicateOf(face(1))).toBeUndefined();
    await enroll(other, 'ada', face(1));
    await enroll(other, 'bo', face(2));
    // Another replica's pruning erased ada's change before this process read it (bo's, the latest, stays).
    expect(await other.users.eraseChangesBefore(new Date(Date.now() + 60_000))).toBe(1);
    await feed.catchUp();
    expect([await duplicateOf(face(1)), await duplicateOf(face(2))]).toEqual(['ada', 'bo']);
    await close();
  });

  it('follows on a timer, erasing old changes, until the store closes', async () => {
    const { mine, other, feed, duplicateOf, close } = await twoProcesses();
    await feed.catchUp();
    expect(await duplicateOf(face(1))).toBeUndefined();
    await enroll(other, 'ada', face(1));
    await enroll(other, 'bo', face(2));
    feed.follow(20, 0, mine.lifetime);
    while ((await duplicateOf(face(2))) !== 'bo') await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await duplicateOf(face(1))).toBe('ada');
    while ((await other.users.changesAfter(0, 10)).length > 1) await new Promise((resolve) => setTimeout(resolve, 20));

    const reads = jest.spyOn(mine.users, 'changesAfter');
    await mine.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reads).not.toHaveBeenCalled();
    await close();
  });
});
