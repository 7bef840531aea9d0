import type { NextFunction, RequestHandler } from 'express';
import { requestCaller } from './auth';
import { HttpError } from './errors';

export interface BodyLimits {
  /** A body not read in full this long after its reading began gets 408 and its connection is closed. */
  timeoutMs: number;
  /** Bodies one client may be sending at once; one more gets 429 with `Retry-After`, unread, and its connection is closed. */
  maxUploadsPerClient: number;
}

/** The answer to a body that did not arrive in time; the family answers it in its own shape. */
export class BodyTimeout extends HttpError {
  constructor(timeoutMs: number) {
    super(408, 'body_timeout', `The request body did not arrive within ${timeoutMs} ms.`);
  }
}

/**
 * Wraps a body parser (express.json, multer) of the routes that analyse images: each client may
 * have at most `maxUploadsPerClient` bodies being read at once, and a body must be read within
 * `timeoutMs`, so a client sending slowly ties up neither its own nor anyone else's turn for long.
 * One counter per client across every route that uses the returned function. Needs the caller
 * `requireKey` identified.
 */
export function bodyReader(limits: BodyLimits): (parser: RequestHandler) => RequestHandler {
  const uploading = new Map<string, number>();
  const retryAfter = String(Math.max(1, Math.ceil(limits.timeoutMs / 1000)));
  const release = (clientId: string) => {
    const left = (uploading.get(clientId) ?? 1) - 1;
    if (left > 0) uploading.set(clientId, left);
    else uploading.delete(clientId);
  };

  return (parser) => (req, res, next) => {
    const { clientId } = requestCaller(res);
    const reading = uploading.get(clientId) ?? 0;
    if (reading >= limits.maxUploadsPerClient) {
      // The refused body is not read: the answer closes the connection.
      res.set({ 'Retry-After': retryAfter, Connection: 'close' });
      next(new HttpError(429, 'too_many_uploads', `This client is already sending ${reading} request bodies; send the next when one of them is done.`));
      return;
    }
    uploading.set(clientId, reading + 1);
    let done = false;
    const finish = (then?: NextFunction, error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      release(clientId);
      then?.(error);
    };
    const timer = setTimeout(() => {
      // The rest of the body is not waited for: the answer closes the connection.
      res.set('Connection', 'close');
      finish(next, new BodyTimeout(limits.timeoutMs));
    }, limits.timeoutMs);
    res.once('close', () => finish());
    parser(req, res, (error?: unknown) => finish(next, error));
  };
}
