/**
 * All configuration, from environment variables, validated once at startup.
 * A bad value stops the process with a message naming the variable.
 */
import { availableParallelism } from 'node:os';
import { parseDuration } from './core/duration.js';

export interface Config {
  /** Undefined → start an embedded PostgreSQL under ./.data/postgres. */
  databaseUrl: string | undefined;
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
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  worker: 'inline' | 'off';
  cleanupIntervalMs: number;
  evictionIntervalMs: number;
  rateLimitFailOpen: boolean;
  tokens: string | undefined;
  tokensFile: string | undefined;
  allowAnonymous: boolean;
  metricsToken: string | undefined;
  dataDir: string;
  /** Bound on the value bytes one batch answer returns (past it, gets are per-op 413). */
  maxBatchResponseBytes: number;
  /** CORS_ORIGINS as given (comma-separated origins or `*`); undefined → no CORS. Parsed by src/http/cors.ts. */
  corsOrigins: string | undefined;
}

export class ConfigError extends Error {
  constructor(variable: string, reason: string) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

function duration(env: Env, name: string, fallback: string, allowNone: boolean): number | null {
  const raw = str(env, name, fallback);
  if (allowNone && raw === 'none') return null;
  const parsed = parseDuration(raw);
  if (!parsed.ok) throw new ConfigError(name, parsed.reason);
  return parsed.ms;
}

function clusterNodes(env: Env): Config['redisClusterNodes'] {
  const raw = env.REDIS_CLUSTER_NODES;
  if (raw === undefined || raw === '') return undefined;
  return raw.split(',').map((part) => {
    const match = /^([^:\s]+):([0-9]{1,5})$/.exec(part.trim());
    if (!match) throw new ConfigError('REDIS_CLUSTER_NODES', `expected host:port[,host:port...], got ${JSON.stringify(part)}`);
    return { host: match[1] as string, port: Number(match[2]) };
  });
}

export function loadConfig(env: Env = process.env): Config {
  const schema = str(env, 'CACHE_SCHEMA', 'cacheport');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigError('CACHE_SCHEMA', 'must be a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)');
  const redisPrefix = str(env, 'REDIS_PREFIX', 'cacheport');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix)) throw new ConfigError('REDIS_PREFIX', 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
  const databaseUrl = env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://');
  return {
    databaseUrl,
    backend: oneOf(env, 'CACHE_BACKEND', ['postgres', 'redis'] as const, 'postgres'),
    redisUrl: str(env, 'REDIS_URL', 'redis://127.0.0.1:6379'),
    redisClusterNodes: clusterNodes(env),
    redisPrefix,
    redisCommandTimeoutMs: int(env, 'REDIS_COMMAND_TIMEOUT_MS', int(env, 'BACKEND_TIMEOUT_MS', 2000, 10, 60_000), 10, 60_000),
    host: str(env, 'HOST', '127.0.0.1'),
    port: int(env, 'PORT', 8080, 0, 65535),
    schema,
    pgPoolMax: int(env, 'PG_POOL_MAX', 10, 1, 1000),
    webConcurrency: env.WEB_CONCURRENCY === 'auto' ? availableParallelism() : int(env, 'WEB_CONCURRENCY', 1, 1, 256),
    defaultTtl: duration(env, 'CACHE_DEFAULT_TTL', '1h', true),
    maxValueBytes: int(env, 'CACHE_MAX_VALUE_BYTES', 1024 * 1024, 1, 512 * 1024 * 1024),
    maxBatch: int(env, 'CACHE_MAX_BATCH', 1000, 1, 100_000),
    backendTimeoutMs: int(env, 'BACKEND_TIMEOUT_MS', 2000, 10, 60_000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    worker: oneOf(env, 'WORKER', ['inline', 'off'] as const, 'inline'),
    cleanupIntervalMs: duration(env, 'CLEANUP_INTERVAL', '60s', false) as number,
    evictionIntervalMs: duration(env, 'EVICTION_INTERVAL', '60s', false) as number,
    rateLimitFailOpen: bool(env, 'RATE_LIMIT_FAIL_OPEN', true),
    tokens: env.CACHE_TOKENS === '' ? undefined : env.CACHE_TOKENS,
    tokensFile: env.CACHE_TOKENS_FILE === '' ? undefined : env.CACHE_TOKENS_FILE,
    allowAnonymous: bool(env, 'CACHE_ALLOW_ANONYMOUS', false),
    metricsToken: env.METRICS_TOKEN === '' ? undefined : env.METRICS_TOKEN,
    dataDir: str(env, 'CACHE_DATA_DIR', './.data'),
    maxBatchResponseBytes: int(env, 'CACHE_MAX_BATCH_RESPONSE_BYTES', 16 * 1024 * 1024, 1, 2 ** 31 - 1),
    corsOrigins: env.CORS_ORIGINS === '' ? undefined : env.CORS_ORIGINS,
  };
}
