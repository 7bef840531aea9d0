import { brotliCompressSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { USER_KEY, useApp } from '../helpers/app';
import { faceFreeJpeg } from '../helpers/images';

const testApp = useApp();
const CORRUPT = 'The request body does not decode as its content-encoding says.';
const UNSUPPORTED = 'The request body encoding is not supported.';

/** A JSON route's answer to `bytes` sent as they are, declared with `encoding`. */
function postJson(path: string, bytes: Buffer, encoding: string) {
  return request(testApp().app)
    .post(path)
    .set('Authorization', USER_KEY)
    .set('content-type', 'application/json')
    .set('content-encoding', encoding)
    // Sent as the bytes they are (superagent would serialise a Buffer to JSON; its types expect a string back).
    .serialize((body: Buffer) => body as unknown as string)
    .send(bytes);
}

describe('a body whose content-encoding is broken or unknown', () => {
  const json = Buffer.from(JSON.stringify({ images: ['bm90IGFuIGltYWdl'] }));

  it('FIQA predict: 400 when it does not decode, 415 for an encoding it does not know, in Nodeflux’s shape', async () => {
    const job = { id: expect.any(String), result: null };
    for (const [encoding, bytes] of [['gzip', json], ['deflate', json], ['br', json], ['gzip', gzipSync(json).subarray(0, 20)]] as const) {
      const res = await postJson('/NFFS-FIQA/v1/predict', bytes, encoding);
      expect([encoding, res.status, res.body]).toEqual([encoding, 400, { job, message: CORRUPT, ok: false }]);
    }
    for (const encoding of ['x-unknown', 'gzip, gzip']) {
      const res = await postJson('/NFFS-FIQA/v1/predict', json, encoding);
      expect([encoding, res.status, res.body]).toEqual([encoding, 415, { job, message: UNSUPPORTED, ok: false }]);
    }
    // Well-formed compressed bodies are read: these reach the image check.
    for (const [encoding, bytes] of [['gzip', gzipSync(json)], ['br', brotliCompressSync(json)]] as const) {
      const res = await postJson('/NFFS-FIQA/v1/predict', bytes, encoding);
        expect([encoding, res.status, res.body.message]).toEqual([encoding, 400, 'images[0] is neither JPEG nor PNG.']);
    }
  });

  it('QI Tech upload: 400 and 415 in QI Tech’s shape', async () => {
    const corrupt = await postJson('/face_recognition/image', json, 'gzip');
    expect([corrupt.status, corrupt.body]).toEqual([400, { title: 'invalid_request', description: CORRUPT }]);
    const unknown = await postJson('/face_recognition/image', json, 'x-unknown');
    expect([unknown.status, unknown.body]).toEqual([415, { title: 'invalid_request', description: UNSUPPORTED }]);
  });

  it('enroll, authenticate and scan uploads (multipart, read as sent): 415 for any content-encoding, in each family’s shape', async () => {
    const photo = await faceFreeJpeg();
    const multipart = (path: string, field: string, encoding: string) =>
      request(testApp().app).post(path).set('Authorization', USER_KEY).set('content-encoding', encoding).attach(field, photo, 'photo.jpg');
    for (const encoding of ['gzip', 'x-unknown']) {
      const enrolled = await multipart('/api/enroll?username=ann', 'cin_file', encoding);
      expect([encoding, enrolled.status, enrolled.body]).toEqual([encoding, 415, { trained: 'failed', EnrollStatus: 'REJECTED', DecisionReason: 'INVALID_REQUEST' }]);
      const authenticated = await multipart('/api/authentificate?username=ann', 'auth_video', encoding);
      expect([encoding, authenticated.status, authenticated.body]).toEqual([encoding, 415, { score: null, Decision: 'REJECTED', DecisionReason: 'INVALID_REQUEST' }]);
      const scanned = await multipart('/scan/uploaded', 'files', encoding);
      expect([encoding, scanned.status, scanned.body.error]).toEqual([encoding, 415, 'unsupported_encoding']);
    }
    for (const encoding of ['identity', 'Identity', '']) expect((await multipart('/api/enroll?username=ann', 'cin_file', encoding)).body.DecisionReason).toBe('NO_FACE_DETECTED');
  });
});
