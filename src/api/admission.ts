import type { RequestHandler } from 'express';
import { HttpError } from './errors';

export interface AdmissionLimits {
  /** Requests analysed at the same time. */
  maxConcurrent: number;
  /** Requests waiting for a turn; one more is turned away at once. */
  maxQueued: number;
  /** Longest wait for a turn before the request is turned away. */
  maxWaitMs: number;
}

/** The error every API family answers in its own shape: 503, with `Retry-After` set on the response. */
export class Overloaded extends HttpError {
  constructor(message: string) {
    super(503, 'overloaded', message);
  }
}

interface Waiting {
  admit: () => void;
  timer: NodeJS.Timeout;
}

/**
 * A bounded in-flight queue in front of the analysis routes, placed before their bodies are read:
 * at most `maxConcurrent` requests run, at most `maxQueued` wait (their bodies still unread on the
 * socket), none waits longer than `maxWaitMs`, and anything beyond gets 503 with `Retry-After` at
 * once. Memory and latency stay bounded however many clients pile on.
 */
export function admission(limits: AdmissionLimits): RequestHandler & { readonly active: number; readonly queued: number } {
  let active = 0;
  const queue: Waiting[] = [];
  const retryAfter = String(Math.max(1, Math.ceil(limits.maxWaitMs / 1000)));

  const release = () => {
    const next = queue.shift();
    if (next) {
      clearTimeout(next.timer);
      next.admit();
    } else {
      active--;
    }
  };

  const handler: RequestHandler = (_req, res, next) => {
    const run = () => {
      res.once('close', release);
      next();
    };
    const refuse = (message: string) => {
      res.set('Retry-After', retryAfter);
      next(new Overloaded(message));
    };
    if (active < limits.maxConcurrent) {
      active++;
      run();
      return;
    }
    if (queue.length >= limits.maxQueued) {
      refuse('The service is at capacity; try again shortly.');
      return;
    }
    const waiting: Waiting = {
      admit: run,
      timer: setTimeout(() => {
        queue.splice(queue.indexOf(waiting), 1);
        refuse(`The service is at capacity: no turn came within ${limits.maxWaitMs} ms; try again shortly.`);
      }, limits.maxWaitMs),
    };
    queue.push(waiting);
    // A client that gives up while waiting frees its place in the queue.
    res.once('close', () => {
      const at = queue.indexOf(waiting);
      if (at < 0) return;
      clearTimeout(waiting.timer);
      queue.splice(at, 1);
    });
  };

  return Object.defineProperties(handler, {
    active: { get: () => active },
    queued: { get: () => queue.length },
  }) as RequestHandler & { readonly active: number; readonly queued: number };
}
