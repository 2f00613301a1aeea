/**
 * Builds the configured backend: the one place (with src/app.ts, which calls
 * it) that imports adapters. Used by the server (`npm start`) and by the
 * standalone worker (`npm run worker`).
 */
import type { Config } from './config.js';
import type { AdapterOptions } from './core/defaults.js';
import type { CachePort } from './core/port.js';
import type { Logger } from './logger.js';
import { runMigrations } from './adapters/postgres/migrate.js';
import { createPostgresPort } from './adapters/postgres/index.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './adapters/postgres/embedded.js';
import { createRedisPort, type RedisPort } from './adapters/redis/index.js';
import { postgresTarget, redactUrl, redisTarget, waitForBackend } from './startup.js';

export interface Backend {
  port: CachePort;
  /** Postgres URL for the worker, when the backend is Postgres. */
  databaseUrl: string | undefined;
  /** Started when DATABASE_URL is unset; stopped by whoever closes the backend. */
  embedded: EmbeddedPostgresHandle | undefined;
  /** The Redis adapter's maintenance side (bounds, index pruning), when the backend is Redis. */
  redis: RedisPort | undefined;
}

export function adapterOptions(config: Config): AdapterOptions {
  return {
    defaultTtl: config.defaultTtl,
    maxValueBytes: config.maxValueBytes,
    timeoutMs: config.backendTimeoutMs,
    maxBatch: config.maxBatch,
    maxMessageBytes: config.maxMessageBytes,
    channelRetentionMs: config.channelRetentionMs,
  };
}

export function createRedisBackend(config: Config, logger: Logger): RedisPort {
  return createRedisPort({
    ...adapterOptions(config),
    timeoutMs: config.redisCommandTimeoutMs,
    url: config.redisUrl,
    prefix: config.redisPrefix,
    clusterNodes: config.redisClusterNodes,
    onConnectionError: (error) => logger.warn({ err: error }, 'redis connection error'),
  });
}

export interface PreparedDatabase {
  databaseUrl: string;
  embedded: EmbeddedPostgresHandle | undefined;
}

/** DATABASE_URL or an embedded server (started here), migrated. The cluster primary does this once for all workers. */
export async function prepareDatabase(config: Config, logger: Logger): Promise<PreparedDatabase> {
  let embedded: EmbeddedPostgresHandle | undefined;
  if (config.databaseUrl === undefined) {
    logger.info({ dataDir: config.dataDir }, 'DATABASE_URL is not set: starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
    logEmbedded(embedded, logger);
  } else {
    await waitForBackend(postgresTarget(config.databaseUrl), config.startupTimeoutMs, logger);
  }
  const databaseUrl = config.databaseUrl ?? (embedded as EmbeddedPostgresHandle).url;
  try {
    await runMigrations(databaseUrl, config.schema);
    return { databaseUrl, embedded };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/** Where the embedded cluster is and how to reach it with psql (password only by file). */
export function logEmbedded(embedded: EmbeddedPostgresHandle, logger: Logger): void {
  logger.info(
    { clusterDir: embedded.clusterDir, url: redactUrl(embedded.url), passwordFile: embedded.passwordFile },
    `embedded PostgreSQL: data in ${embedded.clusterDir}, URL ${redactUrl(embedded.url)} (password in ${embedded.passwordFile})`,
  );
}

/** Redis: wait (bounded by STARTUP_TIMEOUT) until REDIS_URL answers, then build the adapter. */
export async function openRedisBackend(config: Config, logger: Logger): Promise<RedisPort> {
  await waitForBackend(redisTarget(config), config.startupTimeoutMs, logger);
  return createRedisBackend(config, logger);
}

export interface OpenBackendOptions {
  /** false: the database is already prepared (cluster worker: DATABASE_URL is set and migrated by the primary). */
  prepare?: boolean;
  /** Postgres pool size (default PG_POOL_MAX; a cluster worker gets its share). */
  poolMax?: number;
}

/** Postgres: DATABASE_URL or an embedded server, migrated; Redis: REDIS_URL / REDIS_CLUSTER_NODES. */
export async function openBackend(config: Config, logger: Logger, options: OpenBackendOptions = {}): Promise<Backend> {
  if (config.backend === 'redis') {
    const redis = await openRedisBackend(config, logger);
    return { port: redis, databaseUrl: undefined, embedded: undefined, redis };
  }
  const { databaseUrl, embedded } =
    options.prepare === false && config.databaseUrl !== undefined
      ? { databaseUrl: config.databaseUrl, embedded: undefined }
      : await prepareDatabase(config, logger);
  try {
    const port = createPostgresPort({
      ...adapterOptions(config),
      url: databaseUrl,
      schema: config.schema,
      poolMax: options.poolMax ?? config.pgPoolMax,
    });
    return { port, databaseUrl, embedded, redis: undefined };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
