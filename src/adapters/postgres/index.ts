/**
 * The Postgres adapter: one pool, one context, and the feature modules
 * composed into a CachePort. Migrations are run by the caller (runMigrations).
 */
import type { AdapterOptions } from '../../core/defaults.js';
import { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { CachePort } from '../../core/port.js';
import { PgChangeFeed } from './change-feed.js';
import { createPgPubSub } from './channels.js';
import { createPgClient, type Sql } from './connection.js';
import { createPgContext, mapPgError } from './context.js';
import type { CoalescerOptions } from './coalescer.js';
import { createPgEntryStore } from './entries.js';
import type { CoalescingStats } from './entry-coalescing.js';
import { createPgKeyInspector } from './key-inspector.js';
import { createPgLockManager } from './locks.js';
import { createPgNamespaceAdmin, loadNamespaceConfig } from './namespaces.js';
import { createPgPresenceTracker } from './presence.js';
import { createPgRateLimiter } from './ratelimit.js';
import { DEFAULT_READ_TRACKER_OPTIONS, pgReadStatsSink, ReadTracker, type ReadTrackerOptions } from './read-tracker.js';
import { createPgSessionStore } from './sessions.js';
import { timedPing } from '../../core/ping.js';

export interface PostgresPortOptions extends AdapterOptions {
  /** Where the pool connects: the server, or PgBouncer in transaction pooling mode (then `prepare: false`). */
  url: string;
  schema: string;
  poolMax: number;
  /**
   * false when `url` is PgBouncer in transaction pooling mode (PG_PREPARE=false):
   * no prepared statements, no startup parameters (see createPgClient). Default true.
   */
  prepare?: boolean;
  /**
   * The server itself, for what needs one session for longer than a
   * transaction: LISTEN (the change feed; any further listener of this port
   * connects here too, see PgContext.directUrl). Default `url`.
   */
  directUrl?: string;
  /** Hit/miss counter flush and recency touch intervals (defaults: 1 s, 5 s, 10,000 keys). */
  readTracking?: Partial<ReadTrackerOptions>;
  /** How long another process's namespace configuration change may go unseen (default 1 s). */
  configMaxAgeMs?: number;
  /**
   * Request coalescing of concurrent single-key gets and unconditional sets
   * (default on, see coalescingSettings); false sends one statement per call.
   */
  coalesce?: false | Partial<CoalescerOptions>;
}

export interface PostgresPort extends CachePort {
  readonly sql: Sql;
}

/** Each port's coalescing counters, kept off the port's interface: the metrics, tests and benchmarks read them. */
const coalescingCounters = new WeakMap<CachePort, () => CoalescingStats>();

/** Calls and statements of the coalesced operations of `port` so far (for tests and benchmarks). */
export function coalescingStatsOf(port: PostgresPort): CoalescingStats {
  const stats = coalescingCounters.get(port);
  if (!stats) throw new Error('coalescingStatsOf: not a port made by createPostgresPort');
  return stats();
}

/** What reads `port`'s coalescing counters, when `port` was made by createPostgresPort (the metrics read it at scrape time). */
export function coalescingStatsSource(port: CachePort): (() => CoalescingStats) | undefined {
  return coalescingCounters.get(port);
}

/**
 * Most coalesced batches in flight per operation and table (capped by the pool).
 * On 2 cores 1, 2 and 4 gave about the same get throughput at c=64 and 4 the best
 * set throughput; it leaves the rest of the pool to other operations.
 */
const DEFAULT_MAX_IN_FLIGHT = 4;
const DEFAULT_MAX_BATCH = 256;
/** A window longer than this would cost more latency than it saves round trips. */
const MAX_WINDOW_MS = 1;

/** The coalescer settings, or false when coalescing is off. */
export function coalescingSettings(options: Pick<PostgresPortOptions, 'coalesce' | 'poolMax' | 'maxBatch'>): CoalescerOptions | false {
  if (options.coalesce === false) return false;
  const given = options.coalesce ?? {};
  return {
    maxInFlight: Math.max(1, given.maxInFlight ?? Math.min(options.poolMax, DEFAULT_MAX_IN_FLIGHT)),
    maxBatch: Math.max(1, given.maxBatch ?? Math.min(options.maxBatch, DEFAULT_MAX_BATCH)),
    windowMs: Math.min(MAX_WINDOW_MS, Math.max(0, given.windowMs ?? 0)),
  };
}

export function createPostgresPort(options: PostgresPortOptions): PostgresPort {
  const sql = createPgClient({
    url: options.url,
    schema: options.schema,
    max: options.poolMax,
    timeoutMs: options.timeoutMs,
    prepare: options.prepare,
  });
  const directUrl = options.directUrl ?? options.url;
  const ctx = createPgContext(sql, options, options.poolMax, directUrl);
  const configs = new NamespaceConfigCache(
    (ns) => ctx.run('load namespace config', () => loadNamespaceConfig(sql, ns, options.defaultTtl)),
    options.configMaxAgeMs ?? 1000,
  );
  const tracker = new ReadTracker(pgReadStatsSink(ctx), { ...DEFAULT_READ_TRACKER_OPTIONS, ...options.readTracking });
  const { coalescingStats, ...entries } = createPgEntryStore(ctx, configs, tracker, coalescingSettings(options));
  const namespaces = createPgNamespaceAdmin(ctx, configs, tracker);
  const keyInspector = createPgKeyInspector(ctx, configs, tracker);
  const rateLimiter = createPgRateLimiter(ctx);
  const locks = createPgLockManager(ctx);
  const sessions = createPgSessionStore(ctx);
  const presence = createPgPresenceTracker(ctx);
  const feed = new PgChangeFeed({ url: directUrl, schema: options.schema, timeoutMs: options.timeoutMs });
  const pubsub = createPgPubSub(ctx, { ...options, url: directUrl, schema: options.schema, timeoutMs: options.timeoutMs });

  function ping(timeoutMs = options.timeoutMs): Promise<number> {
    return timedPing(
      // A parameter, on purpose. The ping does not wait for the pool gate, so under load it is a
      // statement more than the pool has connections, and postgres.js pipelines a statement onto
      // a busy connection behind one without parameters. Through PgBouncer (PG_PREPARE=false) a
      // parameterized statement pipelined behind the bare `SELECT 1` lost its Describe answer
      // (PgBouncer hands the server back at the first ReadyForQuery) and the connection waited
      // forever. Nothing is pipelined onto a parameterized statement (postgres.js describes it
      // first and keeps the connection to itself). The ping could still be pipelined behind a
      // statement without parameters on the request path; none runs outside a transaction today.
      // (porsager/postgres#970; max_pipeline: 0 would break sql.begin, #1210.)
      () => sql`SELECT ${1}::int AS ok`,
      timeoutMs,
      (error) => mapPgError(error, 'ping', timeoutMs),
    );
  }

  async function close(): Promise<void> {
    await tracker.close();
    await feed.close();
    await pubsub.close();
    await sql.end({ timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)) });
  }

  const port: PostgresPort = {
    backend: 'postgres',
    sql,
    ...entries,
    ...namespaces,
    ...keyInspector,
    ...rateLimiter,
    ...locks,
    ...sessions,
    ...presence,
    changes: feed.changes,
    publish: pubsub.publish,
    subscribe: pubsub.subscribe,
    ping,
    close,
    usage: () => ({ inFlight: ctx.inFlight(), poolSize: options.poolMax }),
  };
  coalescingCounters.set(port, coalescingStats);
  return port;
}
