import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { BQAT_FACE_FIELDS, PROFILE_COLUMNS } from '../../src/scan/profile';
import { REPORT_SECTIONS } from '../../src/scan/report';
import { USER_KEY, useApp } from '../helpers/app';
import { describeWithFaces, faceManifest, facePath, facesAvailable } from '../helpers/faces';
import { faceFreeJpeg } from '../helpers/images';
import { zipOf } from '../helpers/zip';
import { sqliteDb } from '../helpers/sqlite';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

const appOf = useApp((config) => {
  config.scan.workers = 2;
});

const upload = (files: { name: string; data: Buffer }[]) => {
  const req = request(appOf().app).post('/scan/uploaded').set('Authorization', USER_KEY);
  for (const file of files) req.attach('files', file.data, file.name);
  return req;
};
/** Asserts the body matches the openapi.yaml schema `name`. */
function expectSchema(name: string, body: unknown): void {
  const validate = appOf().deps.api.validator(name);
  expect({ valid: validate(body), errors: validate.errors }).toEqual({ valid: true, errors: null });
}
const get = (path: string) => request(appOf().app).get(path).set('Authorization', USER_KEY);

async function scanned(files: { name: string; data: Buffer }[]): Promise<{ tid: string; collection: string }> {
  const res = await upload(files).expect(202);
  await appOf().deps.scanner.idle();
  return res.body as { tid: string; collection: string };
}

/** A real portrait when the photo set is here, a face-free image otherwise: the flow is the same. */
const someImage = async (): Promise<Buffer> => (facesAvailable ? readFileSync(facePath(faceManifest().find((r) => r.face_count === 1)!.file)) : faceFreeJpeg(5));

describe('POST /scan/uploaded refuses bad uploads', () => {
  it('needs an API key', async () => {
    const res = await request(appOf().app).post('/scan/uploaded').attach('files', await faceFreeJpeg(), 'a.jpg').expect(401);
    expect(res.body.error).toBe('unauthorized');
  });

  it('refuses a request with no file, and one that is not multipart', async () => {
    const empty = await upload([]).field('note', 'no files').expect(400);
    expectSchema('ScanError', empty.body);
    expect(empty.body).toEqual({ error: 'no_files', detail: expect.stringMatching(/No file was uploaded/) });
    const json = await request(appOf().app).post('/scan/uploaded').set('Authorization', USER_KEY).send({ files: [] }).expect(400);
    expect(json.body.error).toBe('no_files');
  });

  it('refuses files that are not images, naming them', async () => {
    const res = await upload([
      { name: 'ok.jpg', data: await faceFreeJpeg() },
      { name: 'notes.txt', data: Buffer.from('hello') },
    ]).expect(400);
    expect(res.body.error).toBe('not_an_image');
    expect(res.body.detail).toContain("'notes.txt'");
    expect(res.body.detail).not.toContain('ok.jpg');
  });

  it('refuses a zip with an entry outside the archive, and one that is an empty archive', async () => {
    const traversal = zipOf([
      { name: 'faces/a.jpg', data: await faceFreeJpeg() },
      { name: '../../etc/cron.d/evil.jpg', data: await faceFreeJpeg(4) },
    ]);
    const res = await upload([{ name: 'set.zip', data: traversal }]).expect(400);
    expect(res.body.error).toBe('unsafe_path');
    expect(res.body.detail).toMatch(/set\.zip.*\.\.\/\.\.\/etc\/cron\.d\/evil\.jpg.*outside the archive/);
    const empty = await upload([{ name: 'empty.zip', data: zipOf([]) }]).expect(400);
    expect(empty.body.error).toBe('no_images');
  });

  it('refuses a zip bomb before inflating it', async () => {
    const bomb = zipOf([{ name: 'zeros.jpg', data: Buffer.alloc(3_000_000) }]);
    expect(bomb.length).toBeLessThan(10_000);
    const res = await upload([{ name: 'bomb.zip', data: bomb }]).expect(400);
    expect(res.body.error).toBe('zip_bomb');
  });

  it('refuses an image larger than the image limit with 413', async () => {
    const big = Buffer.concat([await faceFreeJpeg(), Buffer.alloc(appOf().config.limits.maxImageBytes)]);
    const res = await upload([{ name: 'big.jpg', data: big }]).expect(413);
    expect(res.body).toEqual({ error: 'image_too_large', detail: expect.stringContaining("'big.jpg'") });
  });

  it('cuts off an upload whose files together pass the upload limit, with 413', async () => {
    const { deps, config } = appOf();
    const image = await faceFreeJpeg();
    const small = createApp({ ...deps, config: { ...config, scan: { ...config.scan, maxUploadBytes: Math.round(image.length * 1.5) } } });
    const res = await request(small).post('/scan/uploaded').set('Authorization', USER_KEY).attach('files', image, 'a.jpg').attach('files', image, 'b.jpg').expect(413);
    expect(res.body.error).toBe('upload_too_large');
    await request(small).post('/scan/uploaded').set('Authorization', USER_KEY).attach('files', image, 'a.jpg').expect(202);
    await deps.scanner.idle();
  });

  it('answers 400 for a malformed id and 404 for unknown ones', async () => {
    expect((await get('/task/not-a-uuid/').expect(400)).body.error).toBe('invalid_id');
    expect((await get(`/task/${UNKNOWN}/`).expect(404)).body.error).toBe('not_found');
    expect((await get(`/scan/${UNKNOWN}/profiles`).expect(404)).body.error).toBe('not_found');
    expect((await request(appOf().app).delete(`/scan/${UNKNOWN}`).set('Authorization', USER_KEY).expect(404)).body.error).toBe('not_found');
  });
});

describe('a scan from upload to deletion', () => {
  let ids: { tid: string; collection: string };
  const faceFree = 'nothing/here.jpg';

  beforeAll(async () => {
    const portrait = await someImage();
    const archive = zipOf([
      { name: 'set/portrait.jpg', data: portrait },
      { name: '__MACOSX/set/._portrait.jpg', data: Buffer.from('resource fork') },
      // Smaller than the others, so that some column varies even where the portrait has no face.
      { name: faceFree, data: await sharp(await faceFreeJpeg(7)).resize(320, 240).jpeg().toBuffer() },
    ]);
    const accepted = await upload([
      { name: 'loose.jpg', data: portrait },
      { name: 'batch.zip', data: archive },
    ]).expect(202);
    expect(accepted.body).toEqual({ tid: expect.any(String), collection: expect.any(String), total: 3, status: expect.stringMatching(/^(pending|running)$/) });
    expect(accepted.headers.location).toBe(`/task/${accepted.body.tid}/`);
    expectSchema('ScanAccepted', accepted.body);
    // The workers load their models first, so the scan cannot have finished yet.
    const early = await get(`/scan/${accepted.body.collection}/report`).expect(409);
    expect(early.body.error).toBe('scan_unfinished');
    await appOf().deps.scanner.idle();
    ids = accepted.body;
  });

  it('reports the finished task, on both task routes', async () => {
    for (const path of [`/task/${ids.tid}/`, `/task/${ids.tid}/status`]) {
      const res = await get(path).expect(200);
      expect(res.body).toMatchObject({ tid: ids.tid, collection: ids.collection, status: 'done', processed: 3, total: 3, percent: 100, eta_seconds: null, errors: [] });
      expect(Date.parse(res.body.finished_at)).toBeGreaterThanOrEqual(Date.parse(res.body.created_at));
      expectSchema('ScanTask', res.body);
    }
  });

  it('gives one profile per image in upload order, a face-free image with null face fields', async () => {
    const res = await get(`/scan/${ids.collection}/profiles`).expect(200);
    expect(res.headers['x-total-count']).toBe('3');
    expectSchema('ProfileList', res.body);
    expect(res.body.map((p: { file: string }) => p.file)).toEqual(['loose.jpg', 'batch.zip/set/portrait.jpg', `batch.zip/${faceFree}`]);
    const [loose, inZip, empty] = res.body as Record<string, unknown>[];
    expect(Object.keys(loose)).toEqual(PROFILE_COLUMNS);
    expect(inZip).toEqual({ ...loose, file: 'batch.zip/set/portrait.jpg' });
    expect(empty).toMatchObject({ image_width: 320, image_height: 240, face_count: 0 });
    for (const field of BQAT_FACE_FIELDS) expect(empty[field]).toBeNull();
  });

  it('pages with skip and limit, and answers CSV', async () => {
    const page = await get(`/scan/${ids.collection}/profiles?skip=1&limit=1`).expect(200);
    expect(page.body.map((p: { file: string }) => p.file)).toEqual(['batch.zip/set/portrait.jpg']);
    expect((await get(`/scan/${ids.collection}/profiles?limit=-1`).expect(400)).body.error).toBe('invalid_query');
    expect((await get(`/scan/${ids.collection}/profiles?format=xml`).expect(400)).body.error).toBe('invalid_query');

    const csv = await get(`/scan/${ids.collection}/profiles?format=csv`).expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(PROFILE_COLUMNS.join(','));
    expect(lines[3].startsWith(`batch.zip/${faceFree},240,320,,`)).toBe(true);
  });

  it('scores outliers over the numeric columns, with the columns that make each unusual', async () => {
    const res = await get(`/scan/${ids.collection}/outliers?contamination=0.5`).expect(200);
    expect(res.body).toMatchObject({ collection: ids.collection, detector: 'ECOD', contamination: 0.5, total: 3 });
    expectSchema('Outliers', res.body);
    expect(res.body.columns).toContain('image_width');
    expect(res.body.columns).not.toContain('yaw_pose');
    if (facesAvailable) {
      // The two portraits are the same photo; the face-free image is the odd one.
      expect(res.body.outliers.map((o: { file: string }) => o.file)).toEqual([`batch.zip/${faceFree}`]);
      expect(res.body.outliers[0].columns[0]).toEqual({ column: expect.any(String), contribution: expect.any(Number), value: expect.anything() });
    }
    expect((await get(`/scan/${ids.collection}/outliers?contamination=0.9`).expect(400)).body.error).toBe('invalid_query');
  });

  it('serves the HTML report with every section', async () => {
    const res = await get(`/scan/${ids.collection}/report`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    for (const section of REPORT_SECTIONS) expect(res.text).toContain(`<section id="${section}"`);
    expect(res.text).toContain('<svg');
  });

  it('deletes the collection with its task', async () => {
    await request(appOf().app).delete(`/scan/${ids.collection}`).set('Authorization', USER_KEY).expect(204);
    await get(`/scan/${ids.collection}/profiles`).expect(404);
    await get(`/task/${ids.tid}/`).expect(404);
    expect(sqliteDb(appOf().store).prepare('SELECT COUNT(*) AS n FROM scan_files WHERE task_id = ?').get(ids.tid)).toEqual({ n: 0 });
  });

  it('records an image that cannot be decoded as the file error, and goes on', async () => {
    // The upload route refuses such a file; one stored before it did (an older version's database) still gets here.
    const broken = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 7)]);
    const { id: tid, collection } = await appOf().deps.scanner.submit('default', [
      { name: 'broken.jpg', bytes: broken },
      { name: 'fine.jpg', bytes: await faceFreeJpeg() },
    ]);
    await appOf().deps.scanner.idle();
    const task = await get(`/task/${tid}/`).expect(200);
    expect(task.body).toMatchObject({ status: 'done', processed: 2, total: 2, errors: [{ file: 'broken.jpg', error: expect.any(String) }] });
    const profiles = await get(`/scan/${collection}/profiles`).expect(200);
    expect(profiles.body.map((p: { file: string }) => p.file)).toEqual(['fine.jpg']);
  });
});

describeWithFaces('a scan of the whole photo set', () => {
  const records = facesAvailable ? faceManifest() : [];
  let collection: string;

  beforeAll(async () => {
    const archive = zipOf(records.map((r) => ({ name: r.file, data: readFileSync(facePath(r.file)), method: 0 as const })));
    ({ collection } = await scanned([{ name: 'faces.zip', data: archive }]));
  });

  it('profiles every image once', async () => {
    const res = await get(`/scan/${collection}/profiles`).expect(200);
    expect(res.body.map((p: { file: string }) => p.file)).toEqual(records.map((r) => `faces.zip/${r.file}`));
  });

  it('ranks the photos without a face above all others, every face-free photo among the outliers', async () => {
    const profiles = (await get(`/scan/${collection}/profiles`).expect(200)).body as { file: string; face_count: number }[];
    const noFaceFound = profiles.filter((p) => p.face_count === 0).map((p) => p.file);
    const faceFree = records.filter((r) => r.face_count === 0).map((r) => `faces.zip/${r.file}`);
    expect(noFaceFound).toEqual(expect.arrayContaining(faceFree));
    const res = await get(`/scan/${collection}/outliers?contamination=0.15`).expect(200);
    const outliers = (res.body.outliers as { file: string }[]).map((o) => o.file);
    expect(outliers.length).toBeGreaterThan(noFaceFound.length);
    expect(new Set(outliers.slice(0, noFaceFound.length))).toEqual(new Set(noFaceFound));
  });
});
