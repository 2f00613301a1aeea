/**
 * Every SQL statement of the cleanup worker, kept together.
 *
 * Identifiers come only from the fixed arrays below (escaped by postgres.js
 * `sql(identifier)`); every value is a parameter. Tables are unqualified: the
 * client's search_path is the cache schema.
 */
import type postgres from 'postgres';
import type { Sql } from '../src/adapters/postgres/connection.js';

/** A transaction of the worker's client (sql.begin). */
export type Tx = postgres.TransactionSql<{ bigint: bigint }>;

/** Tables holding cache entries; namespaces' bounds (maxEntries/maxBytes) apply to these. */
export const ENTRY_TABLES = ['entries', 'durable_entries'] as const;
export type EntryTable = (typeof ENTRY_TABLES)[number];

/**
 * Every table TTL cleanup sweeps. Each must have an `expires_at timestamptz`
 * column (NULL = never expires) with an index on it. To add a table, append
 * one line here.
 */
export const CLEANUP_TABLES = [
  'entries',
  'durable_entries',
  'sessions',
  'presence',
  'rate_limits',
  // Not `locks`: a lock's row keeps its fence after the lease lapses, and the fence must never repeat.
] as const;
export type CleanupTable = (typeof CLEANUP_TABLES)[number];

/** Upper bound of the expired-but-not-removed count, so the gauge query stays cheap on a backlog. */
export const PENDING_COUNT_CAP = 1_000_000;

/**
 * Deletes up to `limit` expired rows of `table` in one short statement.
 * The inner select walks the expiry index, oldest first, and skips rows a
 * foreground write or another cleaner holds, so it never waits on them. The
 * outer condition is re-checked on the locked rows.
 */
export async function deleteExpiredBatch(sql: Sql, table: CleanupTable, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM ${sql(table)}
    WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM ${sql(table)}
      WHERE expires_at <= now()
      ORDER BY expires_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ))
    AND expires_at <= now()
  `;
  return result.count;
}

export interface BoundedNamespace {
  name: string;
  maxEntries: number | null;
  maxBytes: number | null;
  table: EntryTable;
}

/** Namespaces whose bounds eviction enforces: eviction 'lru' and at least one bound. */
export async function listBoundedNamespaces(sql: Sql): Promise<BoundedNamespace[]> {
  const rows = await sql<{ name: string; max_entries: bigint | null; max_bytes: bigint | null; durable: boolean }[]>`
    SELECT name, max_entries, max_bytes, durable
    FROM namespaces
    WHERE eviction = 'lru' AND (max_entries IS NOT NULL OR max_bytes IS NOT NULL)
    ORDER BY name
  `;
  return rows.map((row) => ({
    name: row.name,
    maxEntries: row.max_entries === null ? null : Number(row.max_entries),
    maxBytes: row.max_bytes === null ? null : Number(row.max_bytes),
    table: row.durable ? 'durable_entries' : 'entries',
  }));
}

/**
 * Transaction-scoped advisory lock on one namespace's eviction: released at
 * commit/rollback or when the session dies, so a crashed worker leaves none.
 * False → another worker is evicting this namespace right now.
 */
export async function tryLockNamespaceEviction(tx: Tx, ns: string): Promise<boolean> {
  const [row] = await tx<{ locked: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(hashtextextended('cacheport:evict:' || current_schema() || ':' || ${ns}, 0)) AS locked
  `;
  return row?.locked === true;
}

/** Live (unexpired) entries and bytes of one namespace. */
export async function namespaceUsage(tx: Tx, table: EntryTable, ns: string): Promise<{ entries: number; bytes: number }> {
  const [row] = await tx<{ entries: bigint; bytes: bigint }[]>`
    SELECT count(*)::bigint AS entries, coalesce(sum(size), 0)::bigint AS bytes
    FROM ${tx(table)}
    WHERE ns = ${ns} AND (expires_at IS NULL OR expires_at > now())
  `;
  return { entries: Number(row?.entries ?? 0n), bytes: Number(row?.bytes ?? 0n) };
}

/**
 * Deletes the least recently used live entries of `ns`, at most `limit` rows:
 * the first `excessEntries` in LRU order, plus as many more as it takes to
 * shed `excessBytes`. Order: accessed_at (coarse recency, index (ns,
 * accessed_at)), ties broken FIFO by created_at.
 */
export async function evictLruBatch(
  tx: Tx,
  table: EntryTable,
  ns: string,
  excessEntries: number,
  excessBytes: number,
  limit: number,
): Promise<number> {
  const result = await tx`
    WITH candidates AS (
      SELECT ctid, size, accessed_at, created_at
      FROM ${tx(table)}
      WHERE ns = ${ns} AND (expires_at IS NULL OR expires_at > now())
      ORDER BY accessed_at, created_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), ranked AS (
      SELECT ctid,
        row_number() OVER w AS position,
        sum(size) OVER w - size AS bytes_before
      FROM candidates
      WINDOW w AS (ORDER BY accessed_at, created_at ROWS UNBOUNDED PRECEDING)
    )
    DELETE FROM ${tx(table)}
    WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM ranked WHERE position <= ${excessEntries} OR bytes_before < ${excessBytes}
    ))
  `;
  return result.count;
}

export interface TableHealthRow {
  table: CleanupTable;
  deadTuples: number;
  liveTuples: number;
  /** Capped at PENDING_COUNT_CAP. */
  expiredPending: number;
  /** Seconds since the oldest still-present expired row expired; 0 when none. */
  oldestExpiredAgeSeconds: number;
}

/** Dead tuples (pg_stat_user_tables) and the expired backlog of every cleanup table. */
export async function readTableHealth(sql: Sql): Promise<TableHealthRow[]> {
  const stats = await sql<{ relname: string; n_dead_tup: bigint; n_live_tup: bigint }[]>`
    SELECT relname, n_dead_tup, n_live_tup
    FROM pg_stat_user_tables
    WHERE schemaname = current_schema() AND relname = ANY(${[...CLEANUP_TABLES]}::text[])
  `;
  const health: TableHealthRow[] = [];
  for (const table of CLEANUP_TABLES) {
    const [backlog] = await sql<{ pending: bigint; oldest_age: number | null }[]>`
      SELECT
        (SELECT count(*) FROM (
          SELECT 1 FROM ${sql(table)} WHERE expires_at <= now() LIMIT ${PENDING_COUNT_CAP}
        ) capped)::bigint AS pending,
        (SELECT extract(epoch FROM now() - min(expires_at))::float8
          FROM ${sql(table)} WHERE expires_at <= now()) AS oldest_age
    `;
    const stat = stats.find((row) => row.relname === table);
    health.push({
      table,
      deadTuples: Number(stat?.n_dead_tup ?? 0n),
      liveTuples: Number(stat?.n_live_tup ?? 0n),
      expiredPending: Number(backlog?.pending ?? 0n),
      oldestExpiredAgeSeconds: backlog?.oldest_age ?? 0,
    });
  }
  return health;
}
