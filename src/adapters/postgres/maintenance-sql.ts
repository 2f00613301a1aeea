/**
 * The SQL of storage upkeep (maintenance.ts): TTL cleanup, LRU eviction and
 * table health. Identifiers come only from the fixed table sets of tables.ts
 * (escaped by postgres.js `sql(identifier)`); every value is a parameter.
 * Tables are unqualified: the client's search_path is the cache schema.
 */
import type { Queryable } from './connection.js';
import { live } from './entry-sql.js';
import { CLEANUP_TABLES, type CleanupTable, type EntryTable } from './tables.js';

/** Upper bound of the expired-but-not-removed count, so the gauge query stays cheap on a backlog. */
export const PENDING_COUNT_CAP = 1_000_000;

/** A namespace's stored bounds, as eviction reads them. */
export interface NamespaceBoundsRow {
  name: string;
  max_entries: bigint | null;
  max_bytes: bigint | null;
  eviction: string;
  durable: boolean;
}

/**
 * Deletes up to `limit` expired rows of `table` in one short statement.
 * The inner select walks the expiry index, oldest first, and skips rows a
 * foreground write or another cleaner holds, so it never waits on them. The
 * outer condition is re-checked on the locked rows.
 */
export async function deleteExpiredBatch(sql: Queryable, table: CleanupTable, limit: number): Promise<number> {
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

/** Namespaces with a stored bound (configured ones only carry bounds); eviction filters them further. */
export function selectNamespaceBounds(sql: Queryable) {
  return sql<NamespaceBoundsRow[]>`
    SELECT name, max_entries, max_bytes, eviction, durable
    FROM namespaces
    WHERE max_entries IS NOT NULL OR max_bytes IS NOT NULL
    ORDER BY name
  `;
}

/**
 * Transaction-scoped advisory lock on one namespace's eviction: released at
 * commit/rollback or when the session dies, so a crashed worker leaves none.
 * False → another worker is evicting this namespace right now.
 */
export async function tryLockNamespaceEviction(tx: Queryable, ns: string): Promise<boolean> {
  const [row] = await tx<{ locked: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(hashtextextended('cacheport:evict:' || current_schema() || ':' || ${ns}, 0)) AS locked
  `;
  return row?.locked === true;
}

/**
 * Names this transaction's entry deletions 'evict' on the change feed (the
 * feed trigger reads cacheport.change_op); the setting ends with the transaction.
 */
export async function announceAsEviction(tx: Queryable): Promise<void> {
  await tx`SELECT set_config('cacheport.change_op', 'evict', true)`;
}

/** Live (unexpired) entries and bytes of one namespace. */
export async function namespaceUsage(tx: Queryable, table: EntryTable, ns: string): Promise<{ entries: number; bytes: number }> {
  const [row] = await tx<{ entries: bigint; bytes: bigint }[]>`
    SELECT count(*)::bigint AS entries, coalesce(sum(e.size), 0)::bigint AS bytes
    FROM ${tx(table)} AS e
    WHERE e.ns = ${ns} AND ${live(tx)}
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
  tx: Queryable,
  table: EntryTable,
  ns: string,
  excessEntries: number,
  excessBytes: number,
  limit: number,
): Promise<number> {
  const result = await tx`
    WITH candidates AS (
      SELECT e.ctid, e.size, e.accessed_at, e.created_at
      FROM ${tx(table)} AS e
      WHERE e.ns = ${ns} AND ${live(tx)}
      ORDER BY e.accessed_at, e.created_at
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

/** Dead and live tuples of every cleanup table (pg_stat_user_tables). */
export function selectTupleStats(sql: Queryable) {
  return sql<{ relname: string; n_dead_tup: bigint; n_live_tup: bigint }[]>`
    SELECT relname, n_dead_tup, n_live_tup
    FROM pg_stat_user_tables
    WHERE schemaname = current_schema() AND relname = ANY(${[...CLEANUP_TABLES]}::text[])
  `;
}

/** Expired rows still present in `table` (capped at PENDING_COUNT_CAP) and the age of the oldest, in seconds. */
export function selectExpiredBacklog(sql: Queryable, table: CleanupTable) {
  return sql<{ pending: bigint; oldest_age: number | null }[]>`
    SELECT
      (SELECT count(*) FROM (
        SELECT 1 FROM ${sql(table)} WHERE expires_at <= now() LIMIT ${PENDING_COUNT_CAP}
      ) capped)::bigint AS pending,
      (SELECT extract(epoch FROM now() - min(expires_at))::float8
        FROM ${sql(table)} WHERE expires_at <= now()) AS oldest_age
  `;
}

// ---------------------------------------------------------------- channels (migration 0010)

/** Up to `limit` channels after `after` (name order) that hold messages. */
export async function selectChannelsWithMessages(sql: Queryable, after: string, limit: number): Promise<string[]> {
  const rows = await sql<{ channel: string }[]>`
    SELECT c.channel FROM channels c
    WHERE c.channel > ${after} AND EXISTS (SELECT 1 FROM channel_messages m WHERE m.channel = c.channel)
    ORDER BY c.channel LIMIT ${limit}`;
  return rows.map((row) => row.channel);
}

/**
 * Deletes up to `limit` of the channel's oldest messages among those past
 * retention or beyond the newest `maxMessages`, and raises the channel's
 * trimmed_through to the newest id deleted (subscribers compare their cursor
 * with it to learn of a gap). Locks the channel row like publish does, so
 * trimming and publishing one channel never interleave; a row a publisher
 * holds is skipped (0), left for the next run.
 */
export async function trimChannelBatch(
  sql: Queryable,
  channel: string,
  retentionMs: number,
  maxMessages: number,
  limit: number,
): Promise<number> {
  const rows = await sql<{ deleted: bigint }[]>`
    WITH ch AS (
      SELECT channel FROM channels WHERE channel = ${channel} FOR UPDATE SKIP LOCKED
    ), cut AS (
      SELECT greatest(
        coalesce((SELECT e.id FROM channel_messages e
                  WHERE e.channel = ch.channel AND e.published_at < now() - ${retentionMs}::bigint * interval '1 millisecond'
                  ORDER BY e.published_at DESC LIMIT 1), 0),
        coalesce((SELECT e.id FROM channel_messages e WHERE e.channel = ch.channel
                  ORDER BY e.id DESC OFFSET ${maxMessages} LIMIT 1), 0)) AS upto
      FROM ch
    ), victims AS (
      SELECT m.id FROM channel_messages m, cut WHERE m.channel = ${channel} AND m.id <= cut.upto ORDER BY m.id LIMIT ${limit}
    ), deleted AS (
      DELETE FROM channel_messages m USING victims v WHERE m.channel = ${channel} AND m.id = v.id RETURNING m.id
    ), raised AS (
      UPDATE channels c SET trimmed_through = greatest(c.trimmed_through, (SELECT max(id) FROM deleted))
      WHERE c.channel = ${channel} AND EXISTS (SELECT 1 FROM deleted)
    )
    SELECT count(*) AS deleted FROM deleted`;
  return Number(rows[0]?.deleted ?? 0n);
}

/**
 * Forgets up to `limit` channels that hold no messages and saw no publish
 * for `forgetMs` (their last id and trimmed_through go with them: a
 * subscriber resuming such a channel with an old id is told `gap`).
 */
export async function forgetIdleChannels(sql: Queryable, forgetMs: number, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM channels
    WHERE ctid = ANY(ARRAY(
      SELECT c.ctid FROM channels c
      WHERE c.last_published_at < now() - ${forgetMs}::bigint * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM channel_messages m WHERE m.channel = c.channel)
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ))
    AND last_published_at < now() - ${forgetMs}::bigint * interval '1 millisecond'`;
  return result.count;
}
