/**
 * The SQL of key listings, top entries and bulk expire. Keys are
 * `text COLLATE "C"`, so `ORDER BY e.key` and key ranges are byte order and
 * walk the primary key (ns, key): a page reads at most its window of index
 * entries. EXPLAIN of listKeysWindow (checked in test/postgres/key-inspector.test.ts):
 *
 *   Limit
 *     ->  Index Scan using entries_pkey on entries e
 *           Index Cond: ((ns = $1) AND (key > $2) AND (key < $3))
 *
 * no Sort node, so the cost is the window, never the namespace.
 */
import type { Queryable, SqlFragment as Fragment } from './connection.js';
import { live, storageGuard } from './entry-sql.js';
import type { EntryTable } from './tables.js';

/** Key range of a listing or a bulk expire: after `after` (exclusive) or from `from` (inclusive), below `upper`. */
export interface KeyRange {
  from: string | undefined;
  after: string | undefined;
  upper: string | undefined;
}

function rangePredicate(sql: Queryable, range: KeyRange): Fragment {
  const lower =
    range.after !== undefined ? sql`AND e.key > ${range.after}` : range.from !== undefined ? sql`AND e.key >= ${range.from}` : sql``;
  const upper = range.upper !== undefined ? sql`AND e.key < ${range.upper}` : sql``;
  return sql`${lower} ${upper}`;
}

export interface ScannedRow {
  key: string;
  size: number;
  expires_ms: number | null;
  live: boolean;
}

/** Up to `window` stored keys of the range in byte order, expired ones included (flagged), so the scan is bounded. */
export function listKeysWindow(sql: Queryable, table: EntryTable, ns: string, range: KeyRange, window: number) {
  return sql<ScannedRow[]>`
    SELECT e.key, e.size, floor(extract(epoch FROM e.expires_at) * 1000)::float8 AS expires_ms, ${live(sql)} AS live
      FROM ${sql(table)} AS e
     WHERE e.ns = ${ns} ${rangePredicate(sql, range)}
     ORDER BY e.key
     LIMIT ${window}`;
}

export interface TopRow {
  key: string;
  hits: number;
  read_ms: number | null;
}

/** Most read live entries: walks the partial index (ns, hits DESC, key) WHERE hits > 0, no sort. */
export function topEntries(sql: Queryable, table: EntryTable, ns: string, limit: number) {
  return sql<TopRow[]>`
    SELECT e.key, e.hits::float8 AS hits, floor(extract(epoch FROM e.read_at) * 1000)::float8 AS read_ms
      FROM ${sql(table)} AS e
     WHERE e.ns = ${ns} AND e.hits > 0 AND ${live(sql)}
     ORDER BY e.hits DESC NULLS LAST, e.key
     LIMIT ${limit}`;
}

/**
 * Sets the expiry of the next `batch` live entries of the range (and with any
 * of `tags`, when given) after the range's lower bound, rows locked in key
 * order like every multi-row write. The statement trigger announces `expire`
 * with the keys (migration 0007). Returns how many were updated and the last key.
 */
export function expireBatch(
  sql: Queryable,
  table: EntryTable,
  ns: string,
  range: KeyRange,
  tags: string[] | undefined,
  ttlMs: number | null,
  batch: number,
) {
  const tagged = tags === undefined ? sql`` : sql`AND e.tags && ${tags}::text[]`;
  return sql<{ n: number; last: string | null }[]>`
    WITH picked AS (
      SELECT e.key FROM ${sql(table)} AS e
       WHERE e.ns = ${ns} ${rangePredicate(sql, range)} ${tagged} AND ${live(sql)} AND ${storageGuard(sql, ns, table)}
       ORDER BY e.key
       LIMIT ${batch}
         FOR UPDATE
    ),
    updated AS (
      UPDATE ${sql(table)} AS e
         SET expires_at = now() + ${ttlMs}::float8 * interval '1 millisecond', updated_at = now()
        FROM picked AS p
       WHERE e.ns = ${ns} AND e.key = p.key
      RETURNING e.key
    )
    SELECT (SELECT count(*)::int FROM updated) AS n, (SELECT max(p.key) FROM picked AS p) AS last`;
}
