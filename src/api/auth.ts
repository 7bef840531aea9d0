import type { Request, RequestHandler } from 'express';
import { type KeyRole, type Keyring, keyMatches } from '../config/api-keys';
import { HttpError } from './errors';

/** The key sent as `Authorization: <key>`, `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined): string | undefined {
  const value = (authorization ?? apiKeyHeader ?? '').trim();
  if (!value) return undefined;
  return value.replace(/^Bearer\s+/i, '');
}

/** True when the request carries a valid admin key. */
export function isAdmin(keyring: Keyring, req: Request): boolean {
  const key = presentedKey(req.get('authorization'), req.get('x-api-key'));
  return key !== undefined && keyMatches(keyring, 'admin', key);
}

/**
 * Lets the request through only with a valid key of `role`. Otherwise 401 for the route's error
 * handler, or 403 when an ordinary key is sent to an admin route.
 */
export function requireKey(keyring: Keyring, role: KeyRole): RequestHandler {
  return (req, _res, next) => {
    const key = presentedKey(req.get('authorization'), req.get('x-api-key'));
    if (key === undefined) {
      next(new HttpError(401, 'unauthorized', 'An API key is required: send it in the Authorization header.'));
    } else if (!keyMatches(keyring, role, key)) {
      next(
        role === 'admin' && keyMatches(keyring, 'user', key)
          ? new HttpError(403, 'forbidden', 'This route needs an admin key.')
          : new HttpError(401, 'unauthorized', 'The API key is not valid.'),
      );
    } else {
      next();
    }
  };
}
