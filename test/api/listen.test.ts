import express from 'express';
import type { AddressInfo } from 'node:net';
import { listen } from '../../src/api/listen';
import { parseAnswer, slowRequest } from '../helpers/slow-client';

describe('listen', () => {
  it('cuts off a request whose head and body have not arrived within requestTimeoutMs (408, connection closed)', async () => {
    const app = express();
    app.post('/echo', express.json(), (req, res) => {
      res.json(req.body);
    });
    const server = await new Promise<ReturnType<typeof listen>>((resolve) => {
      const started = listen(app, { host: '127.0.0.1', port: 0, requestTimeoutMs: 1000 }, () => resolve(started));
    });
    const { port } = server.address() as AddressInfo;
    try {
      // About 20 s to send in full, a byte at a time: Node's default check every 30 s would let it through.
      const request = { path: '/echo', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ padding: 'x'.repeat(20) }) };
      const slowHead = slowRequest(port, request, { intervalMs: 200, slowHead: true });
      const slowBody = slowRequest(port, request, { intervalMs: 400 });
      for (const client of [slowHead, slowBody]) {
        expect(parseAnswer(await client.answer).status).toBe(408);
        expect(client.cutOff).toBe(true);
      }
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
