import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { createApp } from '../../src/api/app';
import { USER_KEY, useApp } from '../helpers/app';

const testApp = useApp();

/** The app as built by useApp, logging every line at debug level into `lines`. */
function loggingApp(lines: string[]) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return createApp({ ...testApp().deps, logger: pino({ level: 'debug' }, sink) });
}

describe('the request log', () => {
  it('keeps the path of each request but neither its query string, nor a username in the path, nor its key', async () => {
    const lines: string[] = [];
    const app = loggingApp(lines);
    const path = '/face_recognition/image/00000000-0000-4000-8000-000000000000';
    await request(app).get(`${path}?username=alice-in-query&key=secret-in-query`).set('Authorization', USER_KEY).expect(404);
    await request(app).get('/api/users/alice-in-path?username=alice-in-query&key=secret-in-query').set('x-api-key', USER_KEY).expect(404);
    await request(app).delete('/API/Users/alice-in-path').set('x-api-key', USER_KEY).expect(404);
    await request(app).post('/api/authentificate?username=alice-in-query&key=secret-in-query').set('Authorization', `Bearer ${USER_KEY}`).expect(400);
    await request(app).get('/no-such-route?username=alice-in-query&key=secret-in-query').expect(404);

    const log = lines.join('');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const secret of ['alice-in-query', 'secret-in-query', 'alice-in-path', USER_KEY, '?']) expect(log).not.toContain(secret);
    expect(log).toContain(`"path":"${path}"`);
    expect(log).toContain('"path":"/no-such-route"');
    expect(log).toContain('"path":"/api/users/:username"');
  });
});
