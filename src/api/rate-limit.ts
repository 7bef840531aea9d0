import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { type Keyring, keyMatches } from '../config/api-keys';
import { presentedKey } from './auth';
import { HttpError } from './errors';

const MINUTE_MS = 60_000;

/**
 * At most `perMinute` requests a minute for each valid API key (counted under its SHA-256, never
 * the key itself), or for each client address when the key is missing or wrong, so that made-up
 * keys do not each get a budget of their own; beyond, 429 with `Retry-After`, in the shape of the
 * family that was called.
 */
export function perKeyRateLimit(perMinute: number, keyring: Keyring): RequestHandler {
  return rateLimit({
    windowMs: MINUTE_MS,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req) => {
      const key = presentedKey(req.get('authorization'), req.get('x-api-key'));
      const valid = key !== undefined && keyMatches(keyring, 'user', key);
      return valid ? `key:${createHash('sha256').update(key).digest('hex')}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, res, next) => {
      res.set('Retry-After', String(MINUTE_MS / 1000));
      next(new HttpError(429, 'rate_limited', `More than ${perMinute} requests in a minute for this API key; try again after Retry-After seconds.`));
    },
  });
}
