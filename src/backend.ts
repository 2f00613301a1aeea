/**
 * Builds the configured backend: the one place (with src/app.ts, which calls
 * it) that imports adapters. Used by the server (`npm start`) and by the
 * standalone worker (`npm run worker`).
 */
import { directDatabaseUrl, type Config } from './config.js';
import type { AdapterOptions } from './core/defaults.js';
import type { CachePort } from './core/port.js';
import type { Logger } from './logger.js';
import type { CoalescingSource } from './metrics.js';
import { runMigrations } from './adapters/postgres/migrate.js';
import { coalescingStatsSource, createPostgresPort } from './adapters/postgres/index.js';
import { budgetWarning, connectionBudget, readServerConnections } from './adapters/postgres/connection-budget.js';
import { checkPoolerSession } from './adapters/postgres/pooler-session.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './adapters/postgres/embedded.js';
import { createRedisPort, type RedisPort } from './adapters/redis/index.js';
import { postgresTarget, redactUrl, redisTarget, waitForBackend } from './startup.js';

export interface Backend {
  port: CachePort;
  /** Postgres URL for the worker (pg-boss): the server itself (DATABASE_DIRECT_URL or DATABASE_URL), when the backend is Postgres. */
  databaseUrl: string | undefined;
  /** Started when DATABASE_URL is unset; stopped by whoever closes the backend. */
  embedded: EmbeddedPostgresHandle | undefined;
  /** The Redis adapter's maintenance side (bounds, index pruning), when the backend is Redis. */
  redis: RedisPort | undefined;
}

/** The request coalescer's counters of `port`, when it has one (a Postgres port; Redis has no coalescer). */
export function coalescingSourceOf(port: CachePort): CoalescingSource | undefined {
  return coalescingStatsSource(port);
}

/** How much longer JSON.stringify can make a parsed body: a number like `1e20` (4 bytes) becomes 21 digits. */
const SERIALIZED_GROWTH_BOUND = 6;

export function adapterOptions(config: Config): AdapterOptions {
  return {
    defaultTtl: config.defaultTtl,
    maxValueBytes: config.maxValueBytes,
    timeoutMs: config.backendTimeoutMs,
    maxBatch: config.maxBatch,
    // The server bounds the whole publish body by CACHE_MAX_MESSAGE_BYTES (413 before parsing). Re-serialized,
    // data can be longer than the body it came in (`1e20` is written out as 21 digits), so the port's own
    // bound is set where no accepted body can reach it: that check must never turn an accepted body into 413.
    maxMessageBytes: Math.min(config.maxMessageBytes * SERIALIZED_GROWTH_BOUND, 256 * 1024 * 1024),
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
  /** DATABASE_URL (possibly PgBouncer) or the embedded server's URL: the pool connects here. */
  databaseUrl: string;
  /** The server itself: migrations, LISTEN and the worker connect here (DATABASE_DIRECT_URL, else databaseUrl). */
  directUrl: string;
  embedded: EmbeddedPostgresHandle | undefined;
}

/**
 * DATABASE_URL or an embedded server (started here), migrated (on the direct
 * URL: the migration lock is session-level), with the connection budget
 * checked. The cluster primary does this once for all workers.
 */
export async function prepareDatabase(config: Config, logger: Logger): Promise<PreparedDatabase> {
  let embedded: EmbeddedPostgresHandle | undefined;
  if (config.databaseUrl === undefined) {
    logger.info({ dataDir: config.dataDir }, 'DATABASE_URL is not set: starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
    logEmbedded(embedded, logger);
  } else {
    if (!config.pgPrepare && config.databaseDirectUrl === undefined) {
      logger.warn(
        'PG_PREPARE=false without DATABASE_DIRECT_URL: LISTEN (the change feed), migrations and the worker connect to DATABASE_URL; ' +
          'through PgBouncer in transaction pooling mode the change feed misses notifications and the migration lock does not hold: ' +
          'set DATABASE_DIRECT_URL to the server itself',
      );
    }
    await waitForBackend(postgresTarget(config.databaseUrl), config.startupTimeoutMs, logger);
    if (config.databaseDirectUrl !== undefined && config.databaseDirectUrl !== config.databaseUrl) {
      await waitForBackend(postgresTarget(config.databaseDirectUrl, 'DATABASE_DIRECT_URL'), config.startupTimeoutMs, logger);
    }
  }
  const databaseUrl = config.databaseUrl ?? (embedded as EmbeddedPostgresHandle).url;
  const directUrl = directDatabaseUrl(config, databaseUrl);
  try {
    await runMigrations(directUrl, config.schema);
    await warnOnConnectionBudget(config, databaseUrl, directUrl, logger);
    return { databaseUrl, directUrl, embedded };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/**
 * Logs the connection budget once (info), or a warning when the configured
 * instances would need more server connections than the server has free.
 * A failed probe is only logged: the budget is advice, never a reason not to start.
 */
export async function warnOnConnectionBudget(config: Config, databaseUrl: string, directUrl: string, logger: Logger): Promise<void> {
  const budget = connectionBudget({
    poolMax: config.pgPoolMax,
    webConcurrency: config.webConcurrency,
    instances: config.instances,
    inlineWorker: config.worker === 'inline',
    viaPooler: directUrl !== databaseUrl,
  });
  try {
    const server = await readServerConnections(directUrl, config.backendTimeoutMs);
    const available = server.maxConnections - server.reserved - server.othersInUse;
    const fields = { instances: config.instances, ...budget, ...server, available };
    const warning = budgetWarning(budget, server, config.instances);
    if (warning !== undefined) logger.warn(fields, warning);
    else if (budget.poolerClients > 0) {
      logger.info(
        fields,
        `connection budget: ${budget.direct} direct connection(s) of ${available} free; PgBouncer needs max_client_conn >= ${budget.poolerClients} ` +
          `and default_pool_size + reserve_pool_size <= ${available - budget.direct}`,
      );
    } else logger.info(fields, `connection budget: ${budget.direct} connection(s) of ${available} free`);
  } catch (error) {
    logger.warn({ err: error }, 'connection budget not checked: the server limits could not be read');
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
  const { databaseUrl, directUrl, embedded } =
    options.prepare === false && config.databaseUrl !== undefined
      ? { databaseUrl: config.databaseUrl, directUrl: directDatabaseUrl(config, config.databaseUrl), embedded: undefined }
      : await prepareDatabase(config, logger);
  let port: CachePort | undefined;
  try {
    const postgresPort = createPostgresPort({
      ...adapterOptions(config),
      url: databaseUrl,
      directUrl,
      prepare: config.pgPrepare,
      schema: config.schema,
      poolMax: options.poolMax ?? config.pgPoolMax,
    });
    port = postgresPort;
    if (!config.pgPrepare) await checkPoolerSession(postgresPort.sql, config.schema);
    return { port, databaseUrl: directUrl, embedded, redis: undefined };
  } catch (error) {
    await port?.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
}
