import type { RequestHandler } from 'express';
import { performance } from 'node:perf_hooks';
import { requestCaller } from './auth';
import { HttpError } from './errors';
import { FairQueue } from './fair-queue';

export interface AdmissionLimits {
  /** Requests analysed at the same time. */
  maxConcurrent: number;
  /** Requests waiting for a turn; one more is turned away at once. */
  maxQueued: number;
  /** Longest wait for a turn before the request is turned away. */
  maxWaitMs: number;
  /** How long a client that finished a request keeps its share of the slots (`FairQueueLimits.presenceMs`). */
  presenceMs: number;
}

/** Why a request was turned away with 503. */
export type Refusal = 'queue_full' | 'wait_timeout' | 'evicted';

/** What the queue tells the metrics: each request's wait for its turn, and each refusal. */
export interface AdmissionObserver {
  admitted(waitedMs: number): void;
  refused(why: Refusal): void;
}

/** The error every API family answers in its own shape: 503, with `Retry-After` set on the response. */
export class Overloaded extends HttpError {
  constructor(message: string) {
    super(503, 'overloaded', message);
  }
}

interface Waiting {
  run: () => void;
  refuse: (why: Refusal, message: string) => void;
  timer?: NodeJS.Timeout;
}

/**
 * The admission queue of the analysis routes, placed after their bodies have been read (a slow
 * upload holds no turn): at most `maxConcurrent` requests run, clients take turns
 * (`FairQueue`: round-robin over per-client queues, each client at most its share of the slots
 * and of a full queue), at most `maxQueued` wait, none waits longer than `maxWaitMs`, and anything
 * beyond gets 503 with `Retry-After` at once. Needs the caller `requireKey` identified.
 */
export function admission(limits: AdmissionLimits, observer?: AdmissionObserver): RequestHandler & { readonly active: number; readonly queued: number } {
  const queue = new FairQueue<Waiting>(
    limits,
    (waiting) => {
      clearTimeout(waiting.timer);
      waiting.run();
    },
    (waiting) => {
      clearTimeout(waiting.timer);
      waiting.refuse('evicted', 'The service is at capacity: another client needed this place in the queue; try again shortly.');
    },
  );
  const retryAfter = String(Math.max(1, Math.ceil(limits.maxWaitMs / 1000)));

  const handler: RequestHandler = (_req, res, next) => {
    const { clientId } = requestCaller(res);
    const arrived = performance.now();
    const refuse = (why: Refusal, message: string) => {
      observer?.refused(why);
      res.set('Retry-After', retryAfter);
      next(new Overloaded(message));
    };
    const waiting: Waiting = {
      run: () => {
        observer?.admitted(performance.now() - arrived);
        res.once('close', () => queue.finish(clientId));
        next();
      },
      refuse,
    };
    // A client that gives up while waiting frees its place in the queue.
    res.once('close', () => queue.withdraw(clientId, waiting) && clearTimeout(waiting.timer));
    const outcome = queue.enter(clientId, waiting);
    if (outcome === 'refused') {
      refuse('queue_full', 'The service is at capacity; try again shortly.');
    } else if (outcome === 'queued') {
      waiting.timer = setTimeout(() => {
        if (queue.withdraw(clientId, waiting)) refuse('wait_timeout', `The service is at capacity: no turn came within ${limits.maxWaitMs} ms; try again shortly.`);
      }, limits.maxWaitMs);
    }
  };

  return Object.defineProperties(handler, {
    active: { get: () => queue.running },
    queued: { get: () => queue.waiting },
  }) as RequestHandler & { readonly active: number; readonly queued: number };
}
