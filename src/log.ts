import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Config } from './config';
import { generatedSecret } from './config/api-keys';

/** Header values that must never reach a log line. */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'];

export function createLogger(level: Config['log']['level']): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}

/** What stands for a user in the logs instead of their username. */
export interface IdentityTagger {
  /** The same 16 hex digits for the same user of the same client on this deployment; nobody without the secret can reverse or recompute it. */
  tag(client: string, username: string): string;
}

/** Tags users with HMAC-SHA256 under `secret`, truncated to 64 bits. */
export function identityTagger(secret: string): IdentityTagger {
  return {
    // The NUL cannot occur in a client id or a username, so no two pairs give the same input.
    tag: (client, username) => createHmac('sha256', secret).update(`${client}\0${username}`).digest('hex').slice(0, 16),
  };
}

/** The deployment's tagger, keyed by the secret in the data folder (created 0600 at first start). */
export function deploymentIdentityTagger(config: Pick<Config, 'log' | 'store'>): IdentityTagger {
  mkdirSync(config.store.dataDir, { recursive: true, mode: 0o700 });
  return identityTagger(generatedSecret(join(config.store.dataDir, config.log.identitySecretFile)));
}
