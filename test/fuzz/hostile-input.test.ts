/**
 * Hostile input on every public route: random and mutated JSON, base64 and image bytes, malformed
 * multipart, odd identifiers. Each answer must be a status openapi.yaml documents for the route,
 * never a 5xx, within a second; the service must answer normally afterwards. `npm test` runs a few
 * cases per property; `npm run fuzz` runs many (FACEGATE_FUZZ_RUNS).
 */
import fc from 'fast-check';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import request, { type Response } from 'supertest';
import { USER_KEY, useApp } from '../helpers/app';
import { crc32 } from '../helpers/zip';

const RUNS = Number(process.env.FACEGATE_FUZZ_RUNS ?? 15);
const WITHIN_MS = 1000;

const appOf = useApp((config) => {
  config.limits.requestsPerKeyPerMinute = 1_000_000;
});

type Method = 'get' | 'post' | 'delete';

/** The statuses openapi.yaml documents for a route. */
function documented(path: string, method: Method): Set<number> {
  const paths = appOf().deps.api.document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
  return new Set(Object.keys(paths[path][method].responses).map(Number));
}

async function answered(route: [string, Method], send: () => Promise<Response>, allowed?: Set<number>): Promise<Response> {
  const started = Date.now();
  const res = await send();
  const elapsed = Date.now() - started;
  expect({ status: res.status, documented: (allowed ?? documented(...route)).has(res.status) }).toEqual({ status: res.status, documented: true });
  expect(res.status).toBeLessThan(500);
  expect(elapsed).toBeLessThan(WITHIN_MS);
  return res;
}

const FIQA: [string, Method] = ['/NFFS-FIQA/v1/predict', 'post'];
const QI_UPLOAD: [string, Method] = ['/face_recognition/image', 'post'];
const QI_IMAGE: [string, Method] = ['/face_recognition/image/{image_key}', 'get'];
const USER: [string, Method] = ['/api/users/{username}', 'get'];
const ENROLL: [string, Method] = ['/api/enroll', 'post'];
const SCAN: [string, Method] = ['/scan/uploaded', 'post'];

const postJson = (path: string, body: unknown) => () =>
  request(appOf().app).post(path).set('Authorization', USER_KEY).set('Content-Type', 'application/json').send(JSON.stringify(body));
const fiqa = (body: unknown) => postJson(FIQA[0], body);
const qiUpload = (body: unknown) => postJson(QI_UPLOAD[0], body);

/** A PNG whose header claims `width` x `height`, with one tiny compressed row: a decompression bomb's shape. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + 3 * 16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG with an APP1 (EXIF) segment of random bytes right after the start marker. */
function withGarbageExif(jpeg: Buffer, garbage: Buffer): Buffer {
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xffe1, 0);
  segment.writeUInt16BE(garbage.length + 2 + 6, 2);
  return Buffer.concat([jpeg.subarray(0, 2), segment, Buffer.from('Exif\0\0'), garbage, jpeg.subarray(2)]);
}

let small: Buffer;
beforeAll(async () => {
  small = await sharp({ create: { width: 96, height: 72, channels: 3, background: '#8a6a5a' } }).jpeg().toBuffer();
});

describe('random and mutated JSON bodies', () => {
  it('FIQA predict answers a documented 4xx to any JSON value', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (body) => void (await answered(FIQA, fiqa(body)))), { numRuns: RUNS });
  });

  it('FIQA predict answers a documented status to images that are random text, base64 or not', async () => {
    const image = fc.oneof(fc.string(), fc.base64String(), fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b).toString('base64')));
    const thresholds = fc.dictionary(fc.constantFrom('face_detection', 'face_occlusion', 'iqa', 'x'), fc.oneof(fc.double(), fc.string()));
    await fc.assert(
      fc.asyncProperty(fc.array(image, { maxLength: 3 }), thresholds, async (images, extra) => void (await answered(FIQA, fiqa({ images, ...extra })))),
      { numRuns: RUNS },
    );
  });

  it('QI Tech upload answers a documented status to mutated bodies', async () => {
    const body = fc.oneof(fc.jsonValue(), fc.record({ image: fc.oneof(fc.string(), fc.base64String(), fc.integer(), fc.constant(null)) }));
    await fc.assert(fc.asyncProperty(body, async (b) => void (await answered(QI_UPLOAD, qiUpload(b)))), { numRuns: RUNS });
  });

  it('refuses a body that is not JSON at all', async () => {
    const raw = fc.string({ minLength: 1 }).filter((s) => !/^\s*[[{"\d-tfn]/.test(s));
    await fc.assert(
      fc.asyncProperty(raw, async (text) => {
        const res = await answered(FIQA, () => request(appOf().app).post(FIQA[0]).set('Authorization', USER_KEY).set('Content-Type', 'application/json').send(text));
        expect(res.status).toBe(400);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('hostile image bytes', () => {
  const cases: [string, () => Promise<Buffer>][] = [
    ['truncated JPEG', async () => small.subarray(0, Math.floor(small.length / 2))],
    ['PNG labelled as JPEG', async () => sharp(small).png().toBuffer()],
    ['1x1 image', async () => sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).jpeg().toBuffer()],
    ['20000x20000 PNG bomb', async () => pngClaiming(20000, 20000)],
    ['CMYK JPEG', async () => sharp(small).toColourspace('cmyk').jpeg().toBuffer()],
    ['16-bit PNG', async () => sharp(small).toColourspace('rgb16').png().toBuffer()],
    ['animated GIF', async () => sharp(small, { animated: true }).gif().toBuffer()],
    ['garbage EXIF', async () => withGarbageExif(small, Buffer.from('II*\0\x08\0\0\0\xff\xff\xff\xff garbage', 'latin1'))],
  ];

  it.each(cases)('%s: documented answer from FIQA, QI Tech and enroll, never a 5xx', async (_name, make) => {
    const bytes = await make();
    await answered(FIQA, fiqa({ images: [bytes.toString('base64')] }));
    await answered(QI_UPLOAD, qiUpload({ image: bytes.toString('base64') }));
    await answered(ENROLL, () => request(appOf().app).post(`${ENROLL[0]}?username=fuzz`).set('Authorization', USER_KEY).attach('cin_file', bytes, 'photo.jpg'));
  });

  it('randomly mutated JPEG bytes get a documented answer', async () => {
    const mutation = fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(mutation, fc.nat(), async (changes, cut) => {
        const bytes = Buffer.from(small);
        for (const { at, value } of changes) bytes[at % bytes.length] = value;
        const truncated = bytes.subarray(0, bytes.length - (cut % 64));
        await answered(FIQA, fiqa({ images: [truncated.toString('base64')] }));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('hostile identifiers', () => {
  const hostile = fc.oneof(
    fc.constantFrom("' OR 1=1 --", '"; DROP TABLE users; --', '../../etc/passwd', '..%2f..%2fetc', '%00', 'ádá', '用户', '\u202eevil', 'a'.repeat(5000)),
    fc.string({ unit: 'binary', maxLength: 80 }),
  );

  it('image keys, usernames and task ids of any text get 400 or 404', async () => {
    await fc.assert(
      fc.asyncProperty(hostile, async (text) => {
        const id = encodeURIComponent(text);
        const get = (path: string) => () => request(appOf().app).get(path).set('Authorization', USER_KEY);
        await answered(QI_IMAGE, get(`/face_recognition/image/${id}`), new Set([400, 404]));
        await answered(USER, get(`/api/users/${id}`), new Set([400, 404]));
        await answered(['/task/{tid}/', 'get'], get(`/task/${id}/`), new Set([400, 404]));
        await answered(ENROLL, () => request(appOf().app).post(ENROLL[0]).query({ username: text }).set('Authorization', USER_KEY).attach('cin_file', small, 'a.jpg'));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('malformed multipart', () => {
  it('a multipart body without a boundary, with many files, or with a huge field name gets a documented 4xx', async () => {
    const noBoundary = () => request(appOf().app).post(`${ENROLL[0]}?username=fuzz`).set('Authorization', USER_KEY).set('Content-Type', 'multipart/form-data').send('--x\r\n\r\n');
    expect((await answered(ENROLL, noBoundary)).status).toBe(400);
    const many = request(appOf().app).post(`${ENROLL[0]}?username=fuzz`).set('Authorization', USER_KEY);
    for (let i = 0; i < 40; i++) many.attach('cin_file', small, `${i}.jpg`);
    expect((await answered(ENROLL, () => many)).status).toBe(400);
    const hugeField = () => request(appOf().app).post(`${ENROLL[0]}?username=fuzz`).set('Authorization', USER_KEY).field('f'.repeat(100_000), 'x').attach('cin_file', small, 'a.jpg');
    await answered(ENROLL, hugeField);
    const noFiles = () => request(appOf().app).post(SCAN[0]).set('Authorization', USER_KEY).set('Content-Type', 'multipart/form-data; boundary=zzz').send('--zzz--\r\n');
    expect((await answered(SCAN, noFiles)).status).toBe(400);
  });
});

describe('afterwards', () => {
  it('the service answers normally', async () => {
    await request(appOf().app).get('/health').expect(200);
    const res = await request(appOf().app).post(FIQA[0]).set('Authorization', USER_KEY).send({ images: [small.toString('base64')] }).expect(200);
    expect(res.body.ok).toBe(true);
  });
});
