import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { admission, type AdmissionObserver, type Refusal } from '../../src/api/admission';
import { classify } from '../../src/api/errors';

const servers: Server[] = [];
// Closed here too, so that a failing test does not leave a server holding jest open.
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.close();
    server.closeAllConnections();
  }
});

/** An app whose one route holds each request until the test lets it go. */
function held(limits: { maxConcurrent: number; maxQueued: number; maxWaitMs: number }, observer?: AdmissionObserver) {
  const turn = admission({ ...limits, presenceMs: 0 }, observer);
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
    res.status(known?.status ?? 500).json({ error: known?.code, message: known?.message });
  };
  app.use(errors);
  const server = app.listen(0);
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { turn, holds, server, url };
}

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('admission', () => {
  it('tells its observer each wait for a turn and each refusal with its reason', async () => {
    const waits: number[] = [];
    const refusals: Refusal[] = [];
    const { holds, url } = held({ maxConcurrent: 1, maxQueued: 1, maxWaitMs: 300 }, { admitted: (ms) => waits.push(ms), refused: (why) => refusals.push(why) });
    const first = fetch(`${url}/work`);
    await until(() => holds.length === 1);
    const timedOut = fetch(`${url}/work`);
    await until(() => refusals.length === 0 && waits.length === 1);
    expect((await fetch(`${url}/work`)).status).toBe(503);
    expect(refusals).toEqual(['queue_full']);
    expect((await timedOut).status).toBe(503);
    expect(refusals).toEqual(['queue_full', 'wait_timeout']);
    const queued = fetch(`${url}/work`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    holds.shift()?.();
    await first;
    await until(() => holds.length === 1);
    holds.shift()?.();
    expect((await queued).status).toBe(200);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThan(waits[1]);
  });

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
    expect(await third.json()).toMatchObject({ error: 'overloaded' });
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

  it("gives a full queue's place to another client: the burst's newest request gets 503 with Retry-After", async () => {
    const { turn, holds, url } = held({ maxConcurrent: 1, maxQueued: 2, maxWaitMs: 2000 });
    const burst = () => fetch(`${url}/work`, { headers: { 'x-client': 'a' } });
    const first = burst();
    await until(() => holds.length === 1);
    const [second, third] = [burst(), burst()];
    await until(() => turn.queued === 2);
    const other = fetch(`${url}/work`, { headers: { 'x-client': 'b' } });
    const evicted = await third;
    expect(evicted.status).toBe(503);
    expect(evicted.headers.get('retry-after')).toBe('2');
    expect(await evicted.json()).toEqual({ error: 'overloaded', message: expect.stringMatching(/another client needed this place/) });
    // The other client's request is served next, then the rest of the burst.
    for (const answer of [first, other, second]) {
      await until(() => holds.length === 1);
      holds.shift()?.();
      expect((await answer).status).toBe(200);
    }
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
