/**
 * openPort(url, options): the one entry point of the library. The URL's scheme
 * picks the adapter (postgres:// → Postgres, redis:// and rediss:// → Redis,
 * http:// and https:// → the HTTP adapter, a client of a cacheport server). An option that does
 * not apply to that backend, or a bad value, is a ValidationError and opens nothing.
 */
import { DEFAULT_ADAPTER_OPTIONS } from './core/defaults.js';
import { MAX_DURATION_MS } from './core/duration.js';
import { ValidationError, type InvalidParam } from './core/errors.js';
import type { CachePort } from './core/port.js';
import { SCHEMA_PATTERN } from './adapters/postgres/schema-name.js';
import { createPostgresPort } from './adapters/postgres/index.js';
import { runMigrations } from './adapters/postgres/migrate.js';
import { checkPoolerSession } from './adapters/postgres/pooler-session.js';
import { createRedisPort } from './adapters/redis/index.js';
import { createHttpPort } from './adapters/http/index.js';

export interface OpenPortOptions {
  /** Postgres: schema of the tables (default `cacheport`), created and migrated on open. */
  schema?: string;
  /** Redis: every key starts with `prefix:` (default `cacheport`). */
  prefix?: string;
  /** HTTP: bearer token of the cacheport server. */
  token?: string;
  /** Postgres and HTTP: most connections in the pool (default 10). */
  poolMax?: number;
  /**
   * Postgres: false when `url` is PgBouncer in transaction pooling mode: no
   * prepared statements, no startup parameters (its connect_query sets
   * search_path, see docs/scale-out.md). Default true.
   */
  prepare?: boolean;
  /**
   * Postgres: the server itself, when `url` is PgBouncer. Migrations (a
   * session-level advisory lock) and LISTEN (the change feed) connect here.
   * Default `url`.
   */
  directUrl?: string;
  /** Bound on every backend call in ms (default 2000). */
  timeoutMs?: number;
  /** Pub/sub: largest message, as serialized JSON, in bytes (default 64 KiB). */
  maxMessageBytes?: number;
  /** Pub/sub: how long messages are kept for replay, in ms (default 60 s). */
  channelRetentionMs?: number;
}

export type Backend = 'postgres' | 'redis' | 'http';

const APPLIES_TO: Record<keyof OpenPortOptions, readonly Backend[]> = {
  schema: ['postgres'],
  prefix: ['redis'],
  token: ['http'],
  poolMax: ['postgres', 'http'],
  prepare: ['postgres'],
  directUrl: ['postgres'],
  timeoutMs: ['postgres', 'redis', 'http'],
  maxMessageBytes: ['postgres', 'redis', 'http'],
  channelRetentionMs: ['postgres', 'redis'],
};

/** Which backend a URL names, or a ValidationError. */
export function backendOf(url: string): Backend {
  let scheme: string;
  try {
    scheme = new URL(url).protocol;
  } catch {
    throw new ValidationError({
      name: 'url',
      reason: 'is not a valid URL (expected postgres://, redis://, rediss://, http:// or https://)',
    });
  }
  if (scheme === 'postgres:' || scheme === 'postgresql:') return 'postgres';
  if (scheme === 'redis:' || scheme === 'rediss:') return 'redis';
  if (scheme === 'http:' || scheme === 'https:') return 'http';
  throw new ValidationError({
    name: 'url',
    reason: `scheme ${scheme} is not supported (expected postgres://, redis://, rediss://, http:// or https://)`,
  });
}

function isWholeIn(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

export function checkOptions(backend: Backend, options: OpenPortOptions): void {
  const problems: InvalidParam[] = [];
  for (const [name, value] of Object.entries(options) as [string, unknown][]) {
    if (value === undefined) continue;
    const appliesTo = APPLIES_TO[name as keyof OpenPortOptions] as readonly Backend[] | undefined;
    if (!appliesTo) problems.push({ name, reason: 'is not an option of openPort' });
    else if (!appliesTo.includes(backend)) problems.push({ name, reason: `applies to ${appliesTo.join(', ')} URLs only, not ${backend}` });
  }
  if (options.schema !== undefined && !SCHEMA_PATTERN.test(options.schema)) {
    problems.push({ name: 'schema', reason: 'must be a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)' });
  }
  if (options.token !== undefined && !(typeof options.token === 'string' && /^[\x21-\x7e]{1,4096}$/.test(options.token))) {
    problems.push({ name: 'token', reason: 'must be 1-4096 printable ASCII characters without spaces' });
  }
  if (options.prefix !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(options.prefix)) {
    problems.push({ name: 'prefix', reason: 'must be 1-64 characters of A-Z a-z 0-9 _ . -' });
  }
  if (options.poolMax !== undefined && !(Number.isInteger(options.poolMax) && options.poolMax >= 1 && options.poolMax <= 1000)) {
    problems.push({ name: 'poolMax', reason: 'must be a whole number between 1 and 1000' });
  }
  if (options.prepare !== undefined && typeof options.prepare !== 'boolean') {
    problems.push({ name: 'prepare', reason: 'must be true or false' });
  }
  if (options.directUrl !== undefined && (typeof options.directUrl !== 'string' || !/^postgres(ql)?:\/\//.test(options.directUrl))) {
    problems.push({ name: 'directUrl', reason: 'must be a postgres:// or postgresql:// URL' });
  }
  if (options.timeoutMs !== undefined && !(Number.isInteger(options.timeoutMs) && options.timeoutMs >= 10 && options.timeoutMs <= 60_000)) {
    problems.push({ name: 'timeoutMs', reason: 'must be a whole number of ms between 10 and 60000' });
  }
  if (options.maxMessageBytes !== undefined && !isWholeIn(options.maxMessageBytes, 1, 16 * 1024 * 1024)) {
    problems.push({ name: 'maxMessageBytes', reason: 'must be a whole number of bytes between 1 and 16777216' });
  }
  if (options.channelRetentionMs !== undefined && !isWholeIn(options.channelRetentionMs, 1, MAX_DURATION_MS)) {
    problems.push({ name: 'channelRetentionMs', reason: 'must be a whole number of ms between 1 and 365 days' });
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/**
 * Opens a CachePort on `url`. Postgres: the schema is created and migrated
 * first (idempotent; concurrent callers serialize on an advisory lock), on `directUrl` when given.
 * HTTP: nothing is sent until the first call (a wrong token surfaces then, as AuthorizationError).
 * Call `close()` on the port when done. Postgres users must also run the
 * cleanup worker (`cacheport worker`, or a server with WORKER=inline), or expired rows stay.
 */
export async function openPort(url: string, options: OpenPortOptions = {}): Promise<CachePort> {
  const backend = backendOf(url);
  checkOptions(backend, options);
  const common = {
    ...DEFAULT_ADAPTER_OPTIONS,
    timeoutMs: options.timeoutMs ?? DEFAULT_ADAPTER_OPTIONS.timeoutMs,
    maxMessageBytes: options.maxMessageBytes,
    channelRetentionMs: options.channelRetentionMs,
  };
  if (backend === 'postgres') {
    const schema = options.schema ?? 'cacheport';
    const directUrl = options.directUrl ?? url;
    await runMigrations(directUrl, schema);
    const port = createPostgresPort({ ...common, url, directUrl, prepare: options.prepare, schema, poolMax: options.poolMax ?? 10 });
    if (options.prepare === false) {
      try {
        await checkPoolerSession(port.sql, schema);
      } catch (error) {
        await port.close();
        throw error;
      }
    }
    return port;
  }
  if (backend === 'redis') return createRedisPort({ ...common, url, prefix: options.prefix ?? 'cacheport' });
  return createHttpPort({ ...common, url, token: options.token, poolMax: options.poolMax ?? 10 });
}
