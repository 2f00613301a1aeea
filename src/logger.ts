/**
 * pino logger. Tokens never reach the log: authorization headers, lock and
 * session tokens are redacted wherever they appear in a logged object.
 */
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

const REDACT_PATHS = [
  'authorization',
  'token',
  'metricsToken',
  'tokens',
  '*.authorization',
  '*.token',
  '*.tokens',
  '*.metricsToken',
  'req.headers.authorization',
  'req.headers["lock-token"]',
  'headers.authorization',
  'headers["lock-token"]',
];

export function createLogger(level: Config['logLevel'] = 'info'): Logger {
  return pino({
    level,
    base: { service: 'cacheport' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
