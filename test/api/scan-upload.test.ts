import { readdirSync, statSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { OTHER_CLIENT_KEY, USER_KEY, useApp } from '../helpers/app';
import { faceFreeJpeg } from '../helpers/images';
import { zipOf } from '../helpers/zip';
import { sqliteDb } from '../helpers/sqlite';

const appOf = useApp();
const MB = 1024 * 1024;
const BOUNDARY = 'facegate-test-boundary';

/** Listening on a free port, for the tests that stream a body or hold it open. */
function listen(app: http.RequestListener): Promise<Server> {
  return new Promise((resolve) => {
    const listening = http.createServer(app).listen(0, '127.0.0.1', () => resolve(listening));
  });
}

let server: Server;
beforeAll(async () => {
  server = await listen(appOf().app);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const stagingRoot = () => join(appOf().config.store.dataDir, 'scan-uploads');
/** Every file and folder under the upload staging root. */
const staged = () => readdirSync(stagingRoot(), { recursive: true });
const rows = () => sqliteDb(appOf().store).prepare('SELECT (SELECT COUNT(*) FROM tasks) AS tasks, (SELECT COUNT(*) FROM scan_files) AS files').get();

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

const partHeader = (name: string) =>
  Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
const closing = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { error: string; detail: string; tid?: string };
}

/** Opens an upload whose body the test writes itself; `answer` resolves with the server's answer. */
function openUpload(key: string, target: Server = server): { req: http.ClientRequest; answer: Promise<Answer> } {
  const { port } = target.address() as AddressInfo;
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/scan/uploaded',
    headers: { authorization: key, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
  });
  return { req, answer };
}

/** Posts a multipart body from a stream, as a client sending a large file would. */
function post(body: Readable, key: string, target: Server = server): Promise<Answer> {
  const { req, answer } = openUpload(key, target);
  body.pipe(req);
  return answer;
}

/**
 * A multipart body of one file part holding `size` bytes, made a megabyte at a time: never held
 * whole. `read.bytes` counts what the client has taken from it so far.
 */
function streamedPart(name: string, size: number, start: Buffer, read = { bytes: 0 }): Readable {
  const megabyte = Buffer.alloc(MB, 0x5a);
  return Readable.from(
    (function* () {
      yield partHeader(name);
      yield start;
      for (let sent = start.length; sent < size; sent += MB) {
        read.bytes = sent;
        yield sent + MB <= size ? megabyte : megabyte.subarray(0, size - sent);
      }
      read.bytes = size;
      yield closing;
    })(),
    { objectMode: false },
  );
}

const upload = (files: { name: string; data: Buffer }[], key = USER_KEY) => {
  const req = request(server).post('/scan/uploaded').set('Authorization', key);
  for (const file of files) req.attach('files', file.data, file.name);
  return req;
};


describe('a 200 MB scan upload', () => {
  it('streams to disk with a flat RSS, is refused as too large an image and leaves nothing behind', async () => {
    const size = 200 * MB;
    // A first, smaller upload, so that what the first request allocates once is not counted.
    expect((await post(streamedPart('warm-up.jpg', 8 * MB, Buffer.from([0xff, 0xd8, 0xff, 0xe0])), USER_KEY)).status).toBe(413);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      const answer = await post(streamedPart('huge.jpg', size, Buffer.from([0xff, 0xd8, 0xff, 0xe0])), USER_KEY);
      expect(answer.status).toBe(413);
      expect(answer.body).toEqual({ error: 'image_too_large', detail: expect.stringContaining(`'huge.jpg' (${size} bytes)`) });
    } finally {
      clearInterval(sampler);
    }
    const growthMb = (peak - before) / MB;
    console.log(`RSS growth while 200 MB streamed through the upload route: ${growthMb.toFixed(1)} MB`);
    expect(growthMb).toBeLessThan(64);
    expect(staged()).toEqual([]);
  }, 120_000);
});

describe('a scan upload over scan.maxUploadBytes', () => {
  it('is answered 413 as soon as it passes the cap, without the rest of the body being read', async () => {
    const { deps, config } = appOf();
    const small = await listen(createApp({ ...deps, config: { ...config, scan: { ...config.scan, maxUploadBytes: 4 * MB } } }));
    try {
      const read = { bytes: 0 };
      const { req, answer: answered } = openUpload(USER_KEY, small);
      streamedPart('set.zip', 500 * MB, Buffer.from('PK\x03\x04'), read).pipe(req);
      const answer = await answered;
      const sent = read.bytes;
      // As a client that reads the answer while it sends (curl does) would: it stops sending.
      req.destroy();
      expect(answer.status).toBe(413);
      expect(answer.body).toEqual({ error: 'upload_too_large', detail: `The upload is larger than ${4 * MB} bytes.` });
      // What the client had sent when the answer came: the cap and what the sockets buffer, far from all of it.
      console.log(`the client had sent ${(sent / MB).toFixed(0)} MB of 500 MB when the 413 came (cap 4 MB)`);
      expect(sent).toBeLessThan(100 * MB);
      await until(() => staged().length === 0);
    } finally {
      await new Promise((resolve) => small.close(resolve));
    }
  }, 120_000);
});

describe('every file of a scan upload is decoded before anything is stored', () => {
  it('refuses a fake JPEG (magic bytes only) inside a zip with 400, naming it, and stores nothing', async () => {
    const before = rows();
    const fake = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(60_000, 0x5a)]);
    const archive = zipOf([
      { name: 'set/real.jpg', data: await faceFreeJpeg() },
      { name: 'set/fake.jpg', data: fake, method: 0 },
    ]);
    const res = await upload([{ name: 'set.zip', data: archive }]).expect(400);
    expect(res.body).toEqual({ error: 'not_an_image', detail: expect.stringContaining("'set.zip/set/fake.jpg' (a damaged or truncated JPEG)") });
    expect(res.body.detail).not.toContain('real.jpg');
    expect(rows()).toEqual(before);
    expect(staged()).toEqual([]);
  });

  it('refuses a truncated JPEG and a truncated PNG, naming both and not the whole image beside them', async () => {
    const before = rows();
    const jpeg = await faceFreeJpeg();
    const png = await sharp(jpeg).png().toBuffer();
    const res = await upload([
      { name: 'whole.jpg', data: jpeg },
      { name: 'cut.jpg', data: jpeg.subarray(0, Math.round(jpeg.length * 0.6)) },
      { name: 'cut.png', data: png.subarray(0, png.length - 100) },
    ]).expect(400);
    expect(res.body.error).toBe('not_an_image');
    expect(res.body.detail).toContain("'cut.jpg' (a damaged or truncated JPEG)");
    expect(res.body.detail).toContain("'cut.png' (a damaged or truncated PNG)");
    expect(res.body.detail).not.toContain('whole.jpg');
    expect(rows()).toEqual(before);
  });

  it('refuses an image above limits.maxImagePixels from its header, with 413', async () => {
    const { maxImagePixels } = appOf().config.limits;
    const side = Math.ceil(Math.sqrt(maxImagePixels)) + 1;
    const vast = await sharp({ create: { width: side, height: side, channels: 3, background: '#808080' } }).png().toBuffer();
    const res = await upload([{ name: 'vast.png', data: vast }]).expect(413);
    expect(res.body).toEqual({ error: 'image_too_large', detail: expect.stringContaining(`'vast.png' (more than ${maxImagePixels} pixels)`) });
  });
});

describe('one scan intake per client', () => {
  afterAll(() => appOf().deps.scanner.idle());

  it('answers 429 with Retry-After to a second upload of a client while its first is received; another client is served', async () => {
    const jpeg = await faceFreeJpeg();
    const first = openUpload(USER_KEY);
    first.req.write(partHeader('slow.jpg'));
    first.req.write(jpeg.subarray(0, 1000));
    await until(() => staged().some((path) => String(path).endsWith('part-0')));
    const part = join(stagingRoot(), String(staged().find((path) => String(path).endsWith('part-0'))));
    expect([statSync(dirname(part)).mode & 0o777, statSync(part).mode & 0o777]).toEqual([0o700, 0o600]);

    try {
      const refused = await upload([{ name: 'again.jpg', data: jpeg }]);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ error: 'intake_busy', detail: expect.stringContaining('one is taken at a time') });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      await upload([{ name: 'other.jpg', data: jpeg }], OTHER_CLIENT_KEY).expect(202);
    } finally {
      first.req.end(Buffer.concat([jpeg.subarray(1000), closing]));
    }
    expect((await first.answer).status).toBe(202);
    await upload([{ name: 'after.jpg', data: jpeg }]).expect(202);
  });

  it('frees the intake and removes what was received when the client goes away mid-upload', async () => {
    const jpeg = await faceFreeJpeg();
    const gone = openUpload(USER_KEY);
    gone.answer.catch(() => undefined);
    gone.req.write(partHeader('gone.jpg'));
    gone.req.write(jpeg.subarray(0, 1000));
    await until(() => staged().some((path) => String(path).endsWith('part-0')));
    gone.req.destroy();
    await until(() => staged().length === 0);
    await upload([{ name: 'next.jpg', data: jpeg }]).expect(202);
  });
});
