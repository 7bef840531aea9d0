export interface FairQueueLimits {
  /** Items running at the same time, over all clients. */
  maxConcurrent: number;
  /**
   * Items waiting, over all clients. When full, a newcomer takes the newest place of the client
   * waiting with the most items, if that client has more waiting than the newcomer's; otherwise
   * the newcomer is refused. One client's burst cannot fill the queue for the others.
   */
  maxQueued: number;
  /**
   * A client whose last item finished this recently still counts as present: its share of the
   * slots stays reserved while it sends its next request, so a client sending one request after
   * another is not queued behind another client's burst each time.
   */
  presenceMs: number;
}

interface Client<T> {
  running: number;
  waiting: T[];
  /** When its last item finished. */
  lastFinished: number;
}

/**
 * The admission queue's rules, without timers or HTTP: at most `maxConcurrent` items run; each
 * present client (running, waiting, or finished within `presenceMs`) may run at most its share,
 * `maxConcurrent` over the number of present clients, rounded up; waiting items are started
 * client by client in turn (round-robin over per-client queues, oldest first within a client), so
 * one client's burst cannot starve another client. `start` is called for every item that starts,
 * `evict` for every waiting item whose place a newcomer of another client took.
 */
export class FairQueue<T> {
  private readonly clients = new Map<string, Client<T>>();
  /** The client served last: turns go round the clients in the map's (insertion) order, from the one after it. */
  private lastServed: string | undefined;
  private runningTotal = 0;
  private waitingTotal = 0;

  constructor(
    private readonly limits: FairQueueLimits,
    private readonly start: (item: T) => void,
    private readonly evict: (item: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get running(): number {
    return this.runningTotal;
  }

  get waiting(): number {
    return this.waitingTotal;
  }

  /** Adds `client`'s item: `started` at once, `queued`, or `refused` when the queue is full. */
  enter(clientId: string, item: T): 'started' | 'queued' | 'refused' {
    const client = this.client(clientId);
    client.waiting.push(item);
    this.waitingTotal++;
    this.dispatch();
    if (!client.waiting.includes(item)) return 'started';
    if (this.waitingTotal <= this.limits.maxQueued) return 'queued';
    const longest = [...this.clients.values()].reduce((most, other) => (other.waiting.length > most.waiting.length ? other : most));
    if (longest !== client && longest.waiting.length > client.waiting.length) {
      this.waitingTotal--;
      this.evict(longest.waiting.pop() as T);
      return 'queued';
    }
    this.withdraw(clientId, item);
    return 'refused';
  }

  /** Takes back an item still waiting (it timed out or its client left); false if it is not waiting. */
  withdraw(clientId: string, item: T): boolean {
    const client = this.clients.get(clientId);
    const at = client ? client.waiting.indexOf(item) : -1;
    if (!client || at < 0) return false;
    client.waiting.splice(at, 1);
    this.waitingTotal--;
    return true;
  }

  /** One of `client`'s running items is done: its slot goes to the next waiting item in turn. */
  finish(clientId: string): void {
    const client = this.clients.get(clientId);
    if (!client || client.running === 0) throw new Error(`FairQueue: ${clientId} has nothing running`);
    client.running--;
    this.runningTotal--;
    client.lastFinished = this.now();
    this.dispatch();
  }

  private client(clientId: string): Client<T> {
    let client = this.clients.get(clientId);
    if (!client) {
      client = { running: 0, waiting: [], lastFinished: -Infinity };
      this.clients.set(clientId, client);
    }
    return client;
  }

  private isPresent(client: Client<T>, now: number): boolean {
    return client.running > 0 || client.waiting.length > 0 || now - client.lastFinished < this.limits.presenceMs;
  }

  private dispatch(): void {
    const now = this.now();
    this.forgetAbsent(now);
    const present = [...this.clients.values()].filter((client) => this.isPresent(client, now)).length;
    const share = Math.ceil(this.limits.maxConcurrent / Math.max(1, present));
    while (this.runningTotal < this.limits.maxConcurrent) {
      const rotation = [...this.clients.keys()];
      const after = rotation.indexOf(this.lastServed as string) + 1;
      const turn = [...rotation.slice(after), ...rotation.slice(0, after)].find((clientId) => {
        const client = this.clients.get(clientId) as Client<T>;
        return client.waiting.length > 0 && client.running < share;
      });
      if (turn === undefined) return;
      this.lastServed = turn;
      const client = this.clients.get(turn) as Client<T>;
      const item = client.waiting.shift() as T;
      this.waitingTotal--;
      client.running++;
      this.runningTotal++;
      this.start(item);
    }
  }

  /** Drops clients no longer present, so the map holds only clients with something under way, and the one served last, where the turn goes on from. */
  private forgetAbsent(now: number): void {
    for (const [clientId, client] of this.clients) if (clientId !== this.lastServed && !this.isPresent(client, now)) this.clients.delete(clientId);
  }
}
