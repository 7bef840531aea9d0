import type { RequestHandler, Response } from 'express';
import { type Caller, type KeyRole, type Keyring, callerOf } from '../config/api-keys';
import { HttpError } from './errors';

/**
 * The key sent as `Authorization: <key>`, `Authorization: Bearer <key>` or `x-api-key: <key>`;
 * the first header that is not empty wins, so an empty `Authorization` does not hide `x-api-key`.
 */
export function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined): string | undefined {
  const value = [authorization, apiKeyHeader].map((header) => (header ?? '').trim().replace(/^Bearer(?:\s+|$)/i, '')).find(Boolean);
  return value || undefined;
}

/** The caller `requireKey` identified for this request. */
export function requestCaller(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  if (!caller) throw new Error('requestCaller: requireKey has not run on this route');
  return caller;
}

/**
 * Identifies the caller by its key and lets the request through only with a valid key of `role`;
 * otherwise 401 for the route's error handler, or 403 when an ordinary key is sent to an admin
 * route. With `required` false (a family configured without keys, behind a trusted gateway), a
 * request without a valid key acts as an ordinary caller of the default client.
 */
export function requireKey(keyring: Keyring, role: KeyRole, required = true): RequestHandler {
  return (req, res, next) => {
    const key = presentedKey(req.get('authorization'), req.get('x-api-key'));
    const caller = key === undefined ? undefined : callerOf(keyring, key);
    if (!required && role === 'user') {
      res.locals.caller = caller ?? { clientId: keyring.defaultClient, role: 'user', allClients: false };
      next();
    } else if (key === undefined) {
      next(new HttpError(401, 'unauthorized', 'An API key is required: send it in the Authorization header.'));
    } else if (caller === undefined) {
      next(new HttpError(401, 'unauthorized', 'The API key is not valid.'));
    } else if (role === 'admin' && caller.role !== 'admin') {
      next(new HttpError(403, 'forbidden', 'This route needs an admin key.'));
    } else {
      res.locals.caller = caller;
      next();
    }
  };
}
