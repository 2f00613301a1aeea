/**
 * CORS for browser clients, off unless CORS_ORIGINS is set (comma-separated
 * origins, or `*`). Unset: no CORS headers, and OPTIONS stays 405.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { ConfigError } from '../config.js';
import type { AppEnv } from './context.js';

const ALLOW_HEADERS = [
  'Authorization',
  'Content-Type',
  'Cache-Tag',
  'If-Match',
  'If-None-Match',
  'Lock-Token',
  'X-Request-Id',
  'Last-Event-ID',
];
/** Response headers a script may read beyond the CORS-safelisted ones. */
const EXPOSE_HEADERS = [
  'ETag',
  'Cache-Tag',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'X-Request-Id',
  'WWW-Authenticate',
  'Allow',
];
const ORIGIN = /^https?:\/\/[^\s/?#]+$/;

/** `*`, or a list of origins (`scheme://host[:port]`, no path); throws a ConfigError naming the bad one. */
export function parseCorsOrigins(raw: string): '*' | string[] {
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  if (origins.length === 1 && origins[0] === '*') return '*';
  if (origins.length === 0) {
    throw new ConfigError('CORS_ORIGINS', 'give * or a comma-separated list of origins such as https://app.example');
  }
  for (const origin of origins) {
    if (!ORIGIN.test(origin)) {
      throw new ConfigError('CORS_ORIGINS', `${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path), nor *`);
    }
  }
  return origins;
}

/** The CORS middleware for `CORS_ORIGINS`, or undefined when unset. */
export function corsMiddleware(raw: string | undefined): MiddlewareHandler<AppEnv> | undefined {
  if (raw === undefined) return undefined;
  return cors({
    origin: parseCorsOrigins(raw),
    allowMethods: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: 600,
  });
}
