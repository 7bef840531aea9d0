import pino, { type Logger } from 'pino';
import type { Config } from './config';

/** Header values that must never reach a log line. */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'];

export function createLogger(level: Config['log']['level']): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } });
}
