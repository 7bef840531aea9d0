import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';
import { admission } from '../../src/api/admission';
import { classify } from '../../src/api/errors';

/** An app whose one route holds each request until the test lets it go. */
function held(limits: { maxConcurrent: number; maxQueued: number; maxWaitMs: number }) {
  const turn = admission({ ...limits, presenceMs: 0 });
  const holds: (() => void)[] = [];
  const app = express();
  const identify: RequestHandler = (req, res, next) => {
    res.locals.caller = { clientId: req.get('x-client') ?? 'default', role: 'user', allClients: false };
    next();
  };
  app.get('/work', identify, turn, (_req, res) => {
    holds.push(() => res.json({ done: true }));
  });
  const errors: ErrorRequestHandler = (error, _req, res, _next) => {
    const known = classify(error);
    res.status(known?.status ?? 500).json({ error: known?.code });
  };
  app.use(errors);
  const server = app.listen(0);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { turn, holds, server, url };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('admission', () => {
  it('runs up to maxConcurrent, queues up to maxQueued, and turns the rest away at once with 503 and Retry-After', async () => {
    const { turn, holds, server, url } = held({ maxConcurrent: 1, maxQueued: 1, maxWaitMs: 5000 });
    const first = fetch(`${url}/work`);
    await until(() => holds.length === 1);
    const second = fetch(`${url}/work`);
    await until(() => turn.queued === 1);
    const started = Date.now();
    const third = await fetch(`${url}/work`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(await third.json()).toEqual({ error: 'overloaded' });
    expect(Date.now() - started).toBeLessThan(1000);

    holds.shift()?.();
    expect((await first).status).toBe(200);
    await until(() => holds.length === 1);
    expect(turn.queued).toBe(0);
    holds.shift()?.();
    expect((await second).status).toBe(200);
    await until(() => turn.active === 0);
    server.close();
    server.closeAllConnections();
  });

  it('turns a request away once it has waited maxWaitMs', async () => {
    const { turn, holds, server, url } = held({ maxConcurrent: 1, maxQueued: 4, maxWaitMs: 200 });
    const first = fetch(`${url}/work`);
    await until(() => holds.length === 1);
    const started = Date.now();
    const waited = await fetch(`${url}/work`);
    expect(waited.status).toBe(503);
    expect(waited.headers.get('retry-after')).toBe('1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(turn.queued).toBe(0);
    holds.shift()?.();
    await first;
    await until(() => turn.active === 0);
    server.close();
    server.closeAllConnections();
  });

  it('frees the place of a client that gives up while waiting, and the slot of one that leaves while served', async () => {
    const { turn, holds, server, url } = held({ maxConcurrent: 1, maxQueued: 1, maxWaitMs: 5000 });
    const served = new AbortController();
    fetch(`${url}/work`, { signal: served.signal }).catch(() => undefined);
    await until(() => holds.length === 1);
    const waiting = new AbortController();
    fetch(`${url}/work`, { signal: waiting.signal }).catch(() => undefined);
    await until(() => turn.queued === 1);
    waiting.abort();
    await until(() => turn.queued === 0);
    served.abort();
    await until(() => turn.active === 0);
    const next = fetch(`${url}/work`);
    await until(() => holds.length === 2);
    holds[1]();
    expect((await next).status).toBe(200);
    server.close();
    server.closeAllConnections();
  });
});
