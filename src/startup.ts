/**
 * Waiting at startup for a backend that is not up yet (compose / systemd
 * ordering): probe with capped exponential backoff until STARTUP_TIMEOUT,
 * one log line per failed attempt naming the variable (never the password),
 * then a StartupError whose message is one line: cause and fix.
 * Errors that waiting cannot fix (wrong password, missing database) fail at once.
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export class StartupError extends Error {
  override name = 'StartupError';
}

export interface WaitTarget {
  /** The environment variable the user sets: named in every message. */
  variable: 'DATABASE_URL' | 'DATABASE_DIRECT_URL' | 'REDIS_URL' | 'REDIS_CLUSTER_NODES';
  url: string;
  /** Resolves when the backend answers; rejects with the reason otherwise. */
  probe(): Promise<void>;
  /** false: an error waiting will not fix. */
  retryable(error: unknown): boolean;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

/** The URL without its password (and without a query string that may hold one). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

export async function waitForBackend(target: WaitTarget, timeoutMs: number, logger: Logger): Promise<void> {
  const shown = redactUrl(target.url);
  const deadline = Date.now() + timeoutMs;
  let delay = FIRST_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await target.probe();
      if (attempt > 1) logger.info({ waitingFor: target.variable, attempt }, `${target.variable} (${shown}) is reachable`);
      return;
    } catch (error) {
      const reason = describe(error);
      if (!target.retryable(error)) {
        throw new StartupError(`${target.variable} (${shown}) refused the connection: ${reason}; fix ${target.variable}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new StartupError(
          `${target.variable} (${shown}) not reachable after ${Math.round(timeoutMs / 1000)} s (${attempt} attempts): ${reason}; ` +
            `start it or fix ${target.variable}, or raise STARTUP_TIMEOUT`,
        );
      }
      const wait = Math.min(delay, left);
      logger.warn(
        { waitingFor: target.variable, attempt, retryInMs: wait },
        `waiting for ${target.variable} (${shown}): ${reason}; attempt ${attempt}, retrying in ${(wait / 1000).toFixed(1)} s`,
      );
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describe(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = error.message.split('\n')[0] ?? '';
    return code && !message.includes(code) ? `${code} ${message}`.trim() : message || String(code);
  }
  return String(error);
}

/** Postgres SQLSTATEs that mean "not yet": starting up, shutting down, too many connections. */
const PG_RETRYABLE_STATES = new Set(['57P03', '57P01', '57P02', '53300', '08000', '08001', '08003', '08006']);

export function postgresTarget(url: string, variable: 'DATABASE_URL' | 'DATABASE_DIRECT_URL' = 'DATABASE_URL'): WaitTarget {
  return {
    variable,
    url,
    async probe() {
      // Unprepared: the probe may go through PgBouncer in transaction mode (PG_PREPARE=false).
      const sql = postgres(url, {
        max: 1,
        connect_timeout: 5,
        prepare: false,
        onnotice: () => {},
        connection: { application_name: 'cacheport-startup' },
      });
      try {
        await sql`SELECT 1`;
      } finally {
        await sql.end({ timeout: 1 }).catch(() => undefined);
      }
    },
    retryable(error) {
      const code = (error as { code?: unknown }).code;
      // postgres.js reports a server error with a SQLSTATE `code`; anything else is a network-level failure.
      if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return PG_RETRYABLE_STATES.has(code);
      return true;
    },
  };
}

export function redisTarget(config: Config): WaitTarget {
  const node = config.redisClusterNodes?.[0];
  const url = node ? `redis://${node.host}:${node.port}` : config.redisUrl;
  return {
    variable: node ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL',
    url,
    async probe() {
      const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 5000 });
      // connect() only says "Connection is closed."; the error event has the cause (ECONNREFUSED, ...).
      let cause: Error | undefined;
      client.on('error', (error: Error) => (cause ??= error));
      try {
        await client.connect();
        await client.ping();
      } catch (error) {
        throw cause ?? error;
      } finally {
        client.disconnect();
      }
    },
    retryable(error) {
      const message = error instanceof Error ? error.message : '';
      return !/WRONGPASS|NOAUTH|invalid password|NOPERM/i.test(message);
    },
  };
}
