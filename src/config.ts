/**
 * All configuration, from environment variables, validated once at startup.
 * One zod schema over the environment (ENV below): every invalid variable is
 * reported at once, each by name. To add a variable: one line in ENV, one in
 * ENV_HELP (the `cacheport --help` text; the type makes it mandatory), and a
 * field in Config filled in loadConfig.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { SCHEMA_PATTERN } from './adapters/postgres/schema-name.js';
import { parseDuration } from './core/duration.js';

export interface Config {
  /** Undefined → start an embedded PostgreSQL (see src/adapters/postgres/embedded.ts for where it lives). */
  databaseUrl: string | undefined;
  /**
   * The server itself when DATABASE_URL is a pooler (PgBouncer): LISTEN, migrations and the
   * cleanup worker (pg-boss) connect here. Undefined → DATABASE_URL (see directDatabaseUrl).
   */
  databaseDirectUrl: string | undefined;
  /** false: DATABASE_URL is PgBouncer in transaction mode (no prepared statements, no startup parameters). */
  pgPrepare: boolean;
  /** Expected cacheport server instances sharing the database (CACHE_INSTANCES), for the connection budget. */
  instances: number;
  backend: 'postgres' | 'redis';
  redisUrl: string;
  /** From REDIS_CLUSTER_NODES=host:port,...; switches to Redis Cluster. */
  redisClusterNodes: { host: string; port: number }[] | undefined;
  redisPrefix: string;
  redisCommandTimeoutMs: number;
  host: string;
  port: number;
  schema: string;
  pgPoolMax: number;
  /** HTTP worker processes (WEB_CONCURRENCY=N or `auto` = one per core); 1 = no cluster. */
  webConcurrency: number;
  /** ms, or null for no expiry (`CACHE_DEFAULT_TTL=none`). */
  defaultTtl: number | null;
  maxValueBytes: number;
  maxBatch: number;
  /** Bound on every backend call. */
  backendTimeoutMs: number;
  /** How long startup waits for DATABASE_URL / REDIS_URL to answer before giving up. */
  startupTimeoutMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  worker: 'inline' | 'off';
  cleanupIntervalMs: number;
  evictionIntervalMs: number;
  /** Rows per DELETE of the worker's TTL cleanup and LRU eviction (Postgres backend). */
  cleanupBatchSize: number;
  /** Pause between two of those batches, in ms: foreground queries get the database back in between. */
  cleanupPauseMs: number;
  rateLimitFailOpen: boolean;
  tokens: string | undefined;
  tokensFile: string | undefined;
  allowAnonymous: boolean;
  metricsToken: string | undefined;
  dataDir: string;
  /** Bound on the bytes of values (as JSON text: escapes, base64) one batch answer returns (past it, gets are per-op 413). */
  maxBatchResponseBytes: number;
  /** Bound on the bytes (values, keys, tags) one namespace's local cache holds in one server process (CACHE_LOCAL_CACHE_MAX_BYTES). */
  localCacheMaxBytes: number;
  /** Inclusive limit on a channel message's serialized JSON (CACHE_MAX_MESSAGE_BYTES); over HTTP, on the whole publish body. */
  maxMessageBytes: number;
  /** How long channel messages are kept for replay (CHANNEL_RETENTION), ms. */
  channelRetentionMs: number;
  /** CORS_ORIGINS as given (comma-separated origins or `*`); undefined → no CORS. Parsed by src/http/cors.ts. */
  corsOrigins: string | undefined;
  /** Idle event streams get a comment line this often (ms). */
  sseKeepaliveMs: number;
  /** Bytes one event stream may hold for a client that does not read; more → it is disconnected. */
  sseMaxBufferedBytes: number;
  /** Events one event stream may hold for a client that does not read; more → it is disconnected. */
  sseMaxBufferedEvents: number;
}

export interface ConfigIssue {
  variable: string;
  reason: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(variable: string, reason: string, more: ConfigIssue[] = []) {
    const issues = [{ variable, reason }, ...more];
    super(issues.map((issue) => `${issue.variable}: ${issue.reason}`).join('; '));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

type Raw = string | undefined;
const raw = z.string().optional();
const unset = (value: Raw): value is undefined => value === undefined || value === '';

/** A string, or `fallback` when unset or empty. */
function text(fallback: string, pattern?: RegExp, patternReason?: string) {
  return raw.transform((value, ctx) => {
    const chosen = unset(value) ? fallback : value;
    if (pattern && !pattern.test(chosen)) ctx.addIssue({ code: 'custom', message: patternReason ?? `must match ${pattern}` });
    return chosen;
  });
}

function optionalText() {
  return raw.transform((value) => (unset(value) ? undefined : value));
}

function whole(fallback: number, min: number, max: number) {
  return raw.transform((value, ctx) => {
    if (unset(value)) return fallback;
    if (!/^[0-9]+$/.test(value)) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    const n = Number(value);
    if (n < min || n > max) ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${n}` });
    return n;
  });
}

/** Like whole(), but unset stays undefined (the default depends on another variable). */
function optionalWhole(min: number, max: number) {
  return raw.transform((value, ctx) => {
    if (unset(value)) return undefined;
    if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number between ${min} and ${max}, got ${JSON.stringify(value)}` });
    }
    return Number(value);
  });
}

function flag(fallback: boolean) {
  return raw.transform((value, ctx) => {
    if (unset(value)) return fallback;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    ctx.addIssue({ code: 'custom', message: `must be true or false, got ${JSON.stringify(value)}` });
    return fallback;
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(allowed: T, fallback: T[number]) {
  return raw.transform((value, ctx): T[number] => {
    const chosen = unset(value) ? fallback : value;
    if (!(allowed as readonly string[]).includes(chosen)) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${allowed.join(', ')}, got ${JSON.stringify(chosen)}` });
    }
    return chosen as T[number];
  });
}

/** A duration (250ms, 30s, 5m, 2h, 1d); with allowNone, `none` → null. */
function duration<const N extends boolean>(fallback: string, allowNone: N) {
  return raw.transform((value, ctx): N extends true ? number | null : number => {
    const chosen = unset(value) ? fallback : value;
    type Out = N extends true ? number | null : number;
    if (allowNone && chosen === 'none') return null as Out;
    const parsed = parseDuration(chosen);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.reason });
      return 0 as Out;
    }
    return parsed.ms as Out;
  });
}

const clusterNodes = raw.transform((value, ctx): Config['redisClusterNodes'] => {
  if (unset(value)) return undefined;
  const nodes: { host: string; port: number }[] = [];
  for (const part of value.split(',')) {
    const match = /^([^:\s]+):([0-9]{1,5})$/.exec(part.trim());
    if (!match) ctx.addIssue({ code: 'custom', message: `expected host:port[,host:port...], got ${JSON.stringify(part)}` });
    else nodes.push({ host: match[1] as string, port: Number(match[2]) });
  }
  return nodes;
});

const webConcurrency = raw.transform((value, ctx) => {
  if (value === 'auto') return availableParallelism();
  if (unset(value)) return 1;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > 256) {
    ctx.addIssue({ code: 'custom', message: `must be auto or a whole number between 1 and 256, got ${JSON.stringify(value)}` });
  }
  return Number(value);
});

const databaseUrl = raw.transform((value, ctx) => {
  if (unset(value)) return undefined;
  if (!/^postgres(ql)?:\/\//.test(value)) ctx.addIssue({ code: 'custom', message: 'must start with postgres:// or postgresql://' });
  return value;
});

/**
 * Cleanup pacing defaults, chosen with bench/cleanup.ts (docs/performance.md):
 * small batches with a pause keep foreground get p99 during cleanup within
 * 1.5× of without, at a lower but still ample delete rate.
 */
export const DEFAULT_CLEANUP_BATCH_SIZE = 1000;
export const DEFAULT_CLEANUP_PAUSE_MS = 10;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every environment variable the server, worker and migrate read. */
export const ENV = z.object({
  DATABASE_URL: databaseUrl,
  DATABASE_DIRECT_URL: databaseUrl,
  PG_PREPARE: flag(true),
  CACHE_INSTANCES: whole(1, 1, 10_000),
  CACHE_DATA_DIR: text('./.data'),
  CACHE_BACKEND: oneOf(['postgres', 'redis'], 'postgres'),
  CACHE_SCHEMA: text('cacheport', SCHEMA_PATTERN, 'must be a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)'),
  PG_POOL_MAX: whole(10, 1, 1000),
  REDIS_URL: text('redis://127.0.0.1:6379', /^rediss?:\/\//, 'must start with redis:// or rediss://'),
  REDIS_CLUSTER_NODES: clusterNodes,
  REDIS_PREFIX: text('cacheport', /^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
  REDIS_COMMAND_TIMEOUT_MS: optionalWhole(10, 60_000),
  HOST: text('127.0.0.1'),
  PORT: whole(8080, 0, 65535),
  WEB_CONCURRENCY: webConcurrency,
  CACHE_DEFAULT_TTL: duration('1h', true),
  CACHE_MAX_VALUE_BYTES: whole(1024 * 1024, 1, 512 * 1024 * 1024),
  CACHE_MAX_BATCH: whole(1000, 1, 100_000),
  BACKEND_TIMEOUT_MS: whole(2000, 10, 60_000),
  STARTUP_TIMEOUT: duration('60s', false),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  WORKER: oneOf(['inline', 'off'], 'inline'),
  CLEANUP_INTERVAL: duration('60s', false),
  EVICTION_INTERVAL: duration('60s', false),
  CLEANUP_BATCH_SIZE: whole(DEFAULT_CLEANUP_BATCH_SIZE, 1, 100_000),
  CLEANUP_PAUSE_MS: whole(DEFAULT_CLEANUP_PAUSE_MS, 0, 60_000),
  RATE_LIMIT_FAIL_OPEN: flag(true),
  CACHE_TOKENS: optionalText(),
  CACHE_TOKENS_FILE: optionalText(),
  CACHE_ALLOW_ANONYMOUS: flag(false),
  METRICS_TOKEN: optionalText(),
  CACHE_MAX_BATCH_RESPONSE_BYTES: whole(16 * 1024 * 1024, 1, 2 ** 31 - 1),
  CACHE_LOCAL_CACHE_MAX_BYTES: whole(64 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
  CORS_ORIGINS: optionalText(),
  CACHE_MAX_MESSAGE_BYTES: whole(64 * 1024, 1, 16 * 1024 * 1024),
  CHANNEL_RETENTION: duration('60s', false),
  SSE_KEEPALIVE: duration('15s', false),
  SSE_MAX_BUFFERED_BYTES: whole(1024 * 1024, 1024, 1024 * 1024 * 1024),
  SSE_MAX_BUFFERED_EVENTS: whole(10_000, 1, 10_000_000),
});

export type EnvName = keyof typeof ENV.shape;

/** One line per variable for `cacheport --help` and the README. */
export const ENV_HELP: Record<EnvName, string> = {
  DATABASE_URL: 'postgres://… to use; unset = embedded PostgreSQL under CACHE_DATA_DIR',
  DATABASE_DIRECT_URL:
    'postgres://… of the server itself when DATABASE_URL is PgBouncer: LISTEN, migrations and the worker use it (default DATABASE_URL)',
  PG_PREPARE: 'false = DATABASE_URL is PgBouncer in transaction pooling mode: no prepared statements or startup parameters (default true)',
  CACHE_INSTANCES: 'expected cacheport server instances on this database, for the startup connection budget warning (default 1)',
  CACHE_DATA_DIR: 'data directory of the embedded PostgreSQL (default ./.data)',
  CACHE_BACKEND: 'postgres | redis (default postgres)',
  CACHE_SCHEMA: 'Postgres schema for the tables (default cacheport)',
  PG_POOL_MAX: 'Postgres connections per process (default 10)',
  REDIS_URL: 'redis:// or rediss:// URL (default redis://127.0.0.1:6379)',
  REDIS_CLUSTER_NODES: 'host:port,... switches to Redis Cluster',
  REDIS_PREFIX: 'Redis key prefix (default cacheport)',
  REDIS_COMMAND_TIMEOUT_MS: 'Redis command timeout (default BACKEND_TIMEOUT_MS)',
  HOST: 'listen address (default 127.0.0.1; anything else needs CACHE_TOKENS)',
  PORT: 'listen port (default 8080; 0 = any free port)',
  WEB_CONCURRENCY: 'HTTP processes, N or auto (default 1)',
  CACHE_DEFAULT_TTL: 'ttl when a write gives none, e.g. 1h, or none (default 1h)',
  CACHE_MAX_VALUE_BYTES: 'largest value accepted (default 1048576)',
  CACHE_MAX_BATCH: 'most items per batch request (default 1000)',
  BACKEND_TIMEOUT_MS: 'bound on every backend call (default 2000)',
  STARTUP_TIMEOUT: 'how long startup waits for the database / Redis, e.g. 60s (default 60s)',
  LOG_LEVEL: `${LOG_LEVELS.join(' | ')} (default info)`,
  WORKER: 'inline = cleanup worker inside the server, off = run `cacheport worker` separately (default inline)',
  CLEANUP_INTERVAL: 'expired-row cleanup interval (default 60s)',
  EVICTION_INTERVAL: 'size-bound eviction interval (default 60s)',
  CLEANUP_BATCH_SIZE: `rows per DELETE of TTL cleanup and LRU eviction, Postgres backend (default ${DEFAULT_CLEANUP_BATCH_SIZE})`,
  CLEANUP_PAUSE_MS: `pause between two cleanup / eviction batches in ms, so foreground gets keep their latency (default ${DEFAULT_CLEANUP_PAUSE_MS})`,
  RATE_LIMIT_FAIL_OPEN: 'allow requests when the backend is down (default true)',
  CACHE_TOKENS: 'JSON array of { token, scopes, namespaces }',
  CACHE_TOKENS_FILE: 'file holding that JSON array',
  CACHE_ALLOW_ANONYMOUS: 'allow no tokens on a non-loopback HOST (default false)',
  METRICS_TOKEN: 'bearer token required by /metrics',
  CACHE_MAX_BATCH_RESPONSE_BYTES:
    'bound on the bytes of values (as JSON text) one /v1/batch answer returns; further gets are per-op 413 (default 16777216 = 16 MiB)',
  CACHE_LOCAL_CACHE_MAX_BYTES:
    'bound on the bytes (values, keys, tags) each server process keeps in memory per namespace with localCache (default 67108864 = 64 MiB)',
  CORS_ORIGINS: 'comma-separated origins (or *) allowed by CORS; unset = no CORS headers and OPTIONS is 405',
  CACHE_MAX_MESSAGE_BYTES:
    'largest pub/sub message: the data as JSON (library) and the whole body of POST /v1/channels/{channel} (HTTP) (default 65536 = 64 KiB)',
  CHANNEL_RETENTION: 'how long pub/sub messages are kept for replay, e.g. 3s, 60s, 5m (default 60s; at most 10,000 per channel)',
  SSE_KEEPALIVE: 'idle event streams (channels, changes) get a comment line this often, e.g. 15s (default 15s)',
  SSE_MAX_BUFFERED_BYTES: 'bytes an event stream may queue for a client that does not read before it is disconnected (default 1048576)',
  SSE_MAX_BUFFERED_EVENTS: 'events an event stream may queue for a client that does not read before it is disconnected (default 10000)',
};

/** Where session-level work (LISTEN, migrations, pg-boss) connects: DATABASE_DIRECT_URL, else the database URL itself. */
export function directDatabaseUrl(config: Pick<Config, 'databaseDirectUrl'>, databaseUrl: string): string {
  return config.databaseDirectUrl ?? databaseUrl;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ENV.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ variable: issue.path.join('.') || 'environment', reason: issue.message }));
    const [first, ...rest] = issues as [ConfigIssue, ...ConfigIssue[]];
    throw new ConfigError(first.variable, first.reason, rest);
  }
  const e = parsed.data;
  if (e.DATABASE_DIRECT_URL !== undefined && e.DATABASE_URL === undefined) {
    throw new ConfigError('DATABASE_DIRECT_URL', 'needs DATABASE_URL (the embedded PostgreSQL is always reached directly)');
  }
  return {
    databaseUrl: e.DATABASE_URL,
    databaseDirectUrl: e.DATABASE_DIRECT_URL,
    pgPrepare: e.PG_PREPARE,
    instances: e.CACHE_INSTANCES,
    backend: e.CACHE_BACKEND,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    redisPrefix: e.REDIS_PREFIX,
    redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS ?? e.BACKEND_TIMEOUT_MS,
    host: e.HOST,
    port: e.PORT,
    schema: e.CACHE_SCHEMA,
    pgPoolMax: e.PG_POOL_MAX,
    webConcurrency: e.WEB_CONCURRENCY,
    defaultTtl: e.CACHE_DEFAULT_TTL,
    maxValueBytes: e.CACHE_MAX_VALUE_BYTES,
    maxBatch: e.CACHE_MAX_BATCH,
    backendTimeoutMs: e.BACKEND_TIMEOUT_MS,
    startupTimeoutMs: e.STARTUP_TIMEOUT,
    logLevel: e.LOG_LEVEL,
    worker: e.WORKER,
    cleanupIntervalMs: e.CLEANUP_INTERVAL,
    evictionIntervalMs: e.EVICTION_INTERVAL,
    cleanupBatchSize: e.CLEANUP_BATCH_SIZE,
    cleanupPauseMs: e.CLEANUP_PAUSE_MS,
    rateLimitFailOpen: e.RATE_LIMIT_FAIL_OPEN,
    tokens: e.CACHE_TOKENS,
    tokensFile: e.CACHE_TOKENS_FILE,
    allowAnonymous: e.CACHE_ALLOW_ANONYMOUS,
    metricsToken: e.METRICS_TOKEN,
    dataDir: e.CACHE_DATA_DIR,
    maxBatchResponseBytes: e.CACHE_MAX_BATCH_RESPONSE_BYTES,
    localCacheMaxBytes: e.CACHE_LOCAL_CACHE_MAX_BYTES,
    corsOrigins: e.CORS_ORIGINS,
    maxMessageBytes: e.CACHE_MAX_MESSAGE_BYTES,
    channelRetentionMs: e.CHANNEL_RETENTION,
    sseKeepaliveMs: e.SSE_KEEPALIVE,
    sseMaxBufferedBytes: e.SSE_MAX_BUFFERED_BYTES,
    sseMaxBufferedEvents: e.SSE_MAX_BUFFERED_EVENTS,
  };
}
