/**
 * The Postgres adapter: one pool, one context, and the feature modules
 * composed into a CachePort. Migrations are run by the caller (runMigrations).
 */
import type { AdapterOptions } from '../../core/defaults.js';
import { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { CachePort } from '../../core/port.js';
import { createPgClient, type Sql } from './connection.js';
import { createPgContext, mapPgError } from './context.js';
import { createPgEntryStore } from './entries.js';
import { createPgLockManager } from './locks.js';
import { createPgNamespaceAdmin, loadNamespaceConfig } from './namespaces.js';
import { createPgPresenceTracker } from './presence.js';
import { createPgRateLimiter } from './ratelimit.js';
import { DEFAULT_READ_TRACKER_OPTIONS, ReadTracker, type ReadTrackerOptions } from './read-tracker.js';
import { createPgSessionStore } from './sessions.js';
import { withTimeout } from '../../core/timeout.js';

export interface PostgresPortOptions extends AdapterOptions {
  url: string;
  schema: string;
  poolMax: number;
  /** Hit/miss counter flush and recency touch intervals (defaults: 1 s, 5 s, 10,000 keys). */
  readTracking?: Partial<ReadTrackerOptions>;
  /** How long another process's namespace configuration change may go unseen (default 1 s). */
  configMaxAgeMs?: number;
}

export interface PostgresPort extends CachePort {
  readonly sql: Sql;
}

export function createPostgresPort(options: PostgresPortOptions): PostgresPort {
  const sql = createPgClient({ url: options.url, schema: options.schema, max: options.poolMax, timeoutMs: options.timeoutMs });
  const ctx = createPgContext(sql, options);
  const configs = new NamespaceConfigCache(
    (ns) => ctx.run('load namespace config', () => loadNamespaceConfig(sql, ns, options.defaultTtl)),
    options.configMaxAgeMs ?? 1000,
  );
  const tracker = new ReadTracker(sql, { ...DEFAULT_READ_TRACKER_OPTIONS, ...options.readTracking });
  const entries = createPgEntryStore(ctx, configs, tracker);
  const namespaces = createPgNamespaceAdmin(ctx, configs, tracker);
  const rateLimiter = createPgRateLimiter(ctx);
  const locks = createPgLockManager(ctx);
  const sessions = createPgSessionStore(ctx);
  const presence = createPgPresenceTracker(ctx);

  async function ping(timeoutMs = options.timeoutMs): Promise<number> {
    const started = performance.now();
    try {
      await withTimeout(sql`SELECT 1`.then(() => undefined), timeoutMs, 'ping');
    } catch (error) {
      throw mapPgError(error, 'ping', timeoutMs);
    }
    return performance.now() - started;
  }

  async function close(): Promise<void> {
    await tracker.close();
    await sql.end({ timeout: Math.max(1, Math.ceil(options.timeoutMs / 1000)) });
  }

  return {
    backend: 'postgres',
    sql,
    ...entries,
    ...namespaces,
    ...rateLimiter,
    ...locks,
    ...sessions,
    ...presence,
    ping,
    close,
  };
}
