import { FairQueue, type FairQueueLimits } from '../../src/api/fair-queue';

/** A queue whose started items are listed in order, on a clock the test moves. */
function queue(limits: Partial<FairQueueLimits> = {}) {
  const started: string[] = [];
  const clock = { now: 0 };
  const evicted: string[] = [];
  const fair = new FairQueue<string>(
    { maxConcurrent: 1, maxQueued: 100, presenceMs: 0, ...limits },
    (item) => started.push(item),
    (item) => evicted.push(item),
    () => clock.now,
  );
  return { fair, started, evicted, clock };
}

describe('FairQueue', () => {
  it('serves waiting clients in turn, so one client burst does not starve another', () => {
    const { fair, started } = queue();
    for (const item of ['a1', 'a2', 'a3', 'a4']) fair.enter('a', item);
    fair.enter('b', 'b1');
    fair.enter('b', 'b2');
    fair.enter('c', 'c1');
    expect(started).toEqual(['a1']);
    for (let i = 0; i < 6; i++) fair.finish(started[started.length - 1][0]);
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    expect(fair.waiting).toBe(0);
  });

  it('lets a client run at most its share of the slots while another client is present', () => {
    const { fair, started } = queue({ maxConcurrent: 4 });
    for (const item of ['a1', 'a2', 'a3', 'a4', 'a5']) fair.enter('a', item);
    // Alone, a client may use every slot.
    expect(started).toEqual(['a1', 'a2', 'a3', 'a4']);
    fair.enter('b', 'b1');
    fair.enter('b', 'b2');
    fair.enter('b', 'b3');
    fair.finish('a');
    fair.finish('a');
    // Two clients present: two slots each, however long a's queue.
    expect(started).toEqual(['a1', 'a2', 'a3', 'a4', 'b1', 'b2']);
    fair.finish('a');
    expect(started.slice(6)).toEqual(['a5']);
    expect(fair.running).toBe(4);
    fair.finish('b');
    expect(started.slice(7)).toEqual(['b3']);
  });

  it('keeps the share of a client that finished within presenceMs, then gives it to the others', () => {
    const { fair, started, clock } = queue({ maxConcurrent: 2, presenceMs: 1000 });
    fair.enter('b', 'b1');
    for (const item of ['a1', 'a2', 'a3']) fair.enter('a', item);
    expect(started).toEqual(['b1', 'a1']);
    clock.now = 100;
    fair.finish('b');
    // b sends one request after another: its slot waits for it rather than going to a's queue.
    expect(started).toEqual(['b1', 'a1']);
    expect(fair.enter('b', 'b2')).toBe('started');
    clock.now = 200;
    fair.finish('b');
    clock.now = 1300;
    fair.finish('a');
    // b has been gone for presenceMs: a may use both slots.
    expect(started).toEqual(['b1', 'a1', 'b2', 'a2', 'a3']);
  });

  it('refuses beyond maxQueued and takes back withdrawn items', () => {
    const { fair, started, evicted } = queue({ maxQueued: 2 });
    expect(fair.enter('a', 'a1')).toBe('started');
    expect(fair.enter('a', 'a2')).toBe('queued');
    expect(fair.enter('b', 'b1')).toBe('queued');
    expect(fair.enter('b', 'b2')).toBe('refused');
    expect(evicted).toEqual([]);
    expect(fair.withdraw('a', 'a2')).toBe(true);
    expect(fair.withdraw('a', 'a2')).toBe(false);
    expect(fair.waiting).toBe(1);
    fair.finish('a');
    expect(started).toEqual(['a1', 'b1']);
    expect(fair.running).toBe(1);
    expect(() => fair.finish('a')).toThrow('nothing running');
  });

  it("gives a full queue's place to a client waiting less, taken from the newest item of the client waiting most", () => {
    const { fair, started, evicted } = queue({ maxQueued: 3 });
    for (const item of ['a1', 'a2', 'a3', 'a4']) fair.enter('a', item);
    expect(fair.enter('a', 'a5')).toBe('refused');
    expect(fair.enter('b', 'b1')).toBe('queued');
    expect(evicted).toEqual(['a4']);
    expect(fair.enter('c', 'c1')).toBe('queued');
    expect(evicted).toEqual(['a4', 'a3']);
    // Now each waits one: nobody has more than the newcomer, who is refused.
    expect(fair.enter('b', 'b2')).toBe('refused');
    for (let i = 0; i < 3; i++) fair.finish(started[started.length - 1][0]);
    expect(started).toEqual(['a1', 'b1', 'c1', 'a2']);
  });
});
