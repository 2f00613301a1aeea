/**
 * The SQL of the entry store: every statement entries.ts sends, and the named
 * fragments they share. Statements are postgres.js tagged templates (prepared,
 * values always parameters); the table identifier comes from the fixed
 * EntryTable set. Every statement names the entry table `e`, so one liveness
 * predicate and one row projection serve them all.
 *
 * Expired rows stay until cleanup deletes them, so every statement filters on
 * liveness by the database clock: an expired row is absent for reads,
 * conditions, `created` and counts, whether or not cleanup ran.
 */
import type { SetResult } from '../../core/port.js';
import type { ResolvedWrite } from '../../core/write.js';
import type { Queryable, SqlFragment as Fragment } from './connection.js';
import type { EntryTable } from './tables.js';

/** One entry as the row projection returns it. */
export interface EntryRow {
  key: string;
  value: Buffer;
  content_type: string;
  etag: string;
  tags: string[];
  expires_ms: number | null;
}

/** Row `i` (1-based) answers request `i` of a coalesced read. */
export type NumberedEntryRow = EntryRow & { i: number };

/** The entry `e` has not expired: the one liveness predicate. */
export function live(sql: Queryable): Fragment {
  return sql`(e.expires_at IS NULL OR e.expires_at > now())`;
}

/** Its negation: the entry `e` exists but has expired (an upsert may replace it as if absent). */
function expired(sql: Queryable): Fragment {
  return sql`NOT ${live(sql)}`;
}

/** The one row projection, decoded by toEntry. */
function entryColumns(sql: Queryable): Fragment {
  return sql`e.key, e.value, e.content_type, e.etag, e.tags, floor(extract(epoch FROM e.expires_at) * 1000)::float8 AS expires_ms`;
}

/**
 * The one upsert SET list: the proposed row replaces the stored one; an
 * expired row being replaced counts as new (created_at = now(), hits from 0, never read).
 */
function upsertSet(sql: Queryable): Fragment {
  return sql`
    value = excluded.value, content_type = excluded.content_type, etag = excluded.etag,
    tags = excluded.tags, size = excluded.size, expires_at = excluded.expires_at,
    updated_at = now(), accessed_at = now(),
    created_at = CASE WHEN ${live(sql)} THEN e.created_at ELSE now() END,
    hits = CASE WHEN ${live(sql)} THEN e.hits ELSE 0 END,
    read_at = CASE WHEN ${live(sql)} THEN e.read_at ELSE NULL END`;
}

/** An upserted row was created when it was inserted or replaced an expired one (see upsertSet). */
function wasCreated(sql: Queryable): Fragment {
  return sql`(xmax = 0 OR e.created_at = now())`;
}

/** `now() + ttl ms`, NULL for no expiry. */
function expiryIn(sql: Queryable, ttl: Fragment | number | null): Fragment {
  return sql`now() + ${ttl}::float8 * interval '1 millisecond'`;
}

/** Tags sent as a JSON array text per row of an unnest (text[][] cannot be ragged). */
function tagsFromJson(sql: Queryable): Fragment {
  return sql`CASE WHEN i.tags = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(i.tags::jsonb)) END`;
}

/**
 * The storage guard (migration 0008) as a one-time filter: evaluated once, before
 * the statement touches a row. It holds the namespace's lock in shared mode to the
 * end of the transaction and fails with STORAGE_MOVED when the namespace no longer
 * lives in `table` (a durable switch or a drop committed since the config was cached).
 */
export function storageGuard(sql: Queryable, ns: string, table: EntryTable): Fragment {
  return sql`(SELECT cacheport_entry_guard(${ns}, ${table === 'durable_entries'}))`;
}

/** The guard for every namespace of a coalesced batch, in byte order (one lock order). */
function storageGuardAll(sql: Queryable, nss: string[], table: EntryTable): Fragment {
  const distinct = [...new Set(nss)].sort(compareBytes);
  if (distinct.length === 1) return storageGuard(sql, distinct[0] as string, table);
  return sql`(SELECT bool_and(cacheport_entry_guard(g.n, ${table === 'durable_entries'}))
                FROM unnest(${distinct}::text[]) WITH ORDINALITY AS g(n, ord))`;
}

/** SQLSTATE of cacheport_entry_guard: the namespace moved to the other table; nothing was written. */
const STORAGE_MOVED = 'CP001';

export function isStorageMoved(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === STORAGE_MOVED;
}

/**
 * Deletes the rows matching `where` and counts those that were live. The rows
 * are locked first in key order (as batch writes lock them), so a bulk delete
 * and a batch write never deadlock on each other.
 */
function deleteCountingLive(sql: Queryable, table: EntryTable, ns: string, where: Fragment) {
  return sql<{ n: number }[]>`
    WITH victims AS (
      SELECT e.key FROM ${sql(table)} AS e WHERE e.ns = ${ns} AND ${where} AND ${storageGuard(sql, ns, table)}
       ORDER BY e.key FOR UPDATE
    ),
    d AS (
      DELETE FROM ${sql(table)} AS e USING victims AS v WHERE e.ns = ${ns} AND e.key = v.key RETURNING ${live(sql)} AS live
    )
    SELECT count(*) FILTER (WHERE live)::int AS n FROM d`;
}

export function selectEntry(sql: Queryable, table: EntryTable, ns: string, key: string) {
  return sql<EntryRow[]>`
    SELECT ${entryColumns(sql)} FROM ${sql(table)} AS e
     WHERE e.ns = ${ns} AND e.key = ${key} AND ${live(sql)}`;
}

/** Live entries of `keys` (each at most once), in no particular order. */
export function selectEntries(sql: Queryable, table: EntryTable, ns: string, keys: string[]) {
  return sql<EntryRow[]>`
    SELECT ${entryColumns(sql)} FROM ${sql(table)} AS e
     WHERE e.ns = ${ns} AND e.key = ANY(${keys}::text[]) AND ${live(sql)}`;
}

/** Live entries of (ns, key) requests across namespaces; COLLATE "C" matches the key column, so the join probes the primary key. */
export function selectRequested(sql: Queryable, table: EntryTable, nss: string[], keys: string[]) {
  return sql<NumberedEntryRow[]>`
    SELECT q.i::int4 AS i, ${entryColumns(sql)}
      FROM unnest(${nss}::text[], ${keys}::text[]) WITH ORDINALITY AS q(ns, key, i)
      JOIN ${sql(table)} AS e ON e.ns = q.ns AND e.key = q.key COLLATE "C"
     WHERE ${live(sql)}`;
}

export function entryExists(sql: Queryable, table: EntryTable, ns: string, key: string) {
  return sql<{ found: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM ${sql(table)} AS e WHERE e.ns = ${ns} AND e.key = ${key} AND ${live(sql)}) AS found`;
}

/** Remaining ms of a live entry (null: no expiry); no row when absent. */
export function remainingTtl(sql: Queryable, table: EntryTable, ns: string, key: string) {
  return sql<{ remaining: number | null }[]>`
    SELECT ceil(extract(epoch FROM e.expires_at - now()) * 1000)::float8 AS remaining
      FROM ${sql(table)} AS e
     WHERE e.ns = ${ns} AND e.key = ${key} AND ${live(sql)}`;
}

/** One row when the live entry got its new expiry. */
export function setExpiry(sql: Queryable, table: EntryTable, ns: string, key: string, ttlMs: number | null) {
  return sql`
    UPDATE ${sql(table)} AS e SET expires_at = ${expiryIn(sql, ttlMs)}, updated_at = now()
     WHERE e.ns = ${ns} AND e.key = ${key} AND ${live(sql)} AND ${storageGuard(sql, ns, table)}
    RETURNING 1`;
}

/** One row (`live`: whether it was) when the entry existed. */
export function deleteEntry(sql: Queryable, table: EntryTable, ns: string, key: string) {
  return sql<{ live: boolean }[]>`
    DELETE FROM ${sql(table)} AS e WHERE e.ns = ${ns} AND e.key = ${key} AND ${storageGuard(sql, ns, table)}
    RETURNING ${live(sql)} AS live`;
}

export function deleteEntries(sql: Queryable, table: EntryTable, ns: string, keys: string[]) {
  return deleteCountingLive(sql, table, ns, sql`e.key = ANY(${keys}::text[])`);
}

/** Keys in [prefix, upper), or from prefix on when upper is undefined: a range on the primary key (keys are COLLATE "C"). */
export function deleteKeyRange(sql: Queryable, table: EntryTable, ns: string, prefix: string, upper: string | undefined) {
  const below = upper === undefined ? sql`` : sql`AND e.key < ${upper}`;
  return deleteCountingLive(sql, table, ns, sql`e.key >= ${prefix} ${below}`);
}

/** `tags && $2` is served by the GIN index on tags. */
export function deleteTagged(sql: Queryable, table: EntryTable, ns: string, tags: string[]) {
  return deleteCountingLive(sql, table, ns, sql`e.tags && ${tags}::text[]`);
}

/**
 * A namespace's entries in both tables (rows of the other table are left from
 * older versions), rows locked in key order as everywhere.
 */
export function deleteNamespaceEntries(sql: Queryable, ns: string) {
  return sql<{ n: number }[]>`
    WITH la AS (SELECT e.key FROM entries AS e WHERE e.ns = ${ns} ORDER BY e.key FOR UPDATE),
         lb AS (SELECT e.key FROM durable_entries AS e WHERE e.ns = ${ns} ORDER BY e.key FOR UPDATE),
         a AS (DELETE FROM entries AS e USING la WHERE e.ns = ${ns} AND e.key = la.key RETURNING ${live(sql)} AS live),
         b AS (DELETE FROM durable_entries AS e USING lb WHERE e.ns = ${ns} AND e.key = lb.key RETURNING ${live(sql)} AS live)
    SELECT count(*) FILTER (WHERE live)::int AS n FROM (SELECT live FROM a UNION ALL SELECT live FROM b) AS d`;
}

/**
 * always / absent as one upsert, the update guarded for `absent` by "the
 * existing row has expired". A row back means written; `created` see wasCreated.
 */
function upsertEntry(sql: Queryable, table: EntryTable, ns: string, w: ResolvedWrite, onlyIfAbsent: boolean) {
  return sql<{ created: boolean }[]>`
    INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
    SELECT ${ns}, ${w.key}, ${w.value}, ${w.contentType}, ${w.etag}, ${w.tags}::text[], ${w.value.byteLength},
           ${expiryIn(sql, w.ttl)}
     WHERE ${storageGuard(sql, ns, table)}
    ON CONFLICT (ns, key) DO UPDATE SET ${upsertSet(sql)}
    WHERE NOT ${onlyIfAbsent}::boolean OR ${expired(sql)}
    RETURNING ${wasCreated(sql)} AS created`;
}

/** present / etag: an UPDATE of the live row (an upsert could not refuse to insert); `expected` null = any etag. */
function updateEntry(sql: Queryable, table: EntryTable, ns: string, w: ResolvedWrite, expected: string | null) {
  return sql`
    UPDATE ${sql(table)} AS e SET
      value = ${w.value}, content_type = ${w.contentType}, etag = ${w.etag}, tags = ${w.tags}::text[], size = ${w.value.byteLength},
      expires_at = ${expiryIn(sql, w.ttl)}, updated_at = now(), accessed_at = now()
    WHERE e.ns = ${ns} AND e.key = ${w.key} AND ${live(sql)}
      AND (${expected}::text IS NULL OR e.etag = ${expected}::text) AND ${storageGuard(sql, ns, table)}
    RETURNING 1`;
}

/**
 * One write of any condition in one statement. `created` is true when no live
 * entry existed: a fresh insert, or an expired row being replaced.
 */
export async function writeEntry(sql: Queryable, table: EntryTable, ns: string, w: ResolvedWrite): Promise<SetResult> {
  if (w.condition === 'always' || w.condition === 'absent') {
    const rows = await upsertEntry(sql, table, ns, w, w.condition === 'absent');
    return rows.length > 0 ? { written: true, etag: w.etag, created: rows[0]?.created === true } : { written: false };
  }
  const rows = await updateEntry(sql, table, ns, w, w.condition === 'present' ? null : w.condition.etag);
  return rows.length > 0 ? { written: true, etag: w.etag, created: false } : { written: false };
}

/** The columns of writes for an unnest, in the order given. */
function writeColumns(sql: Queryable, writes: ResolvedWrite[]) {
  return {
    keys: writes.map((w) => w.key),
    values: sql.array(writes.map((w) => w.value)),
    contentTypes: writes.map((w) => w.contentType),
    etags: writes.map((w) => w.etag),
    tags: writes.map((w) => JSON.stringify(w.tags)),
    ttls: sql.array(writes.map((w) => w.ttl)),
  };
}

/** Unconditional writes of (ns, key) pairs, no pair twice, rows proposed in the order given. */
export function upsertRequested(sql: Queryable, table: EntryTable, nss: string[], writes: ResolvedWrite[]) {
  const c = writeColumns(sql, writes);
  return sql<{ ns: string; key: string; created: boolean }[]>`
    INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
    SELECT ns, key, value, content_type, etag, ${tagsFromJson(sql)}, octet_length(value), ${expiryIn(sql, sql`ttl`)}
      FROM unnest(
        ${nss}::text[], ${c.keys}::text[], ${c.values}::bytea[], ${c.contentTypes}::text[], ${c.etags}::text[],
        ${c.tags}::text[], ${c.ttls}::float8[]
      ) WITH ORDINALITY AS i(ns, key, value, content_type, etag, tags, ttl, ord)
     WHERE ${storageGuardAll(sql, nss, table)}
     ORDER BY ord
    ON CONFLICT (ns, key) DO UPDATE SET ${upsertSet(sql)}
    RETURNING e.ns, e.key, ${wasCreated(sql)} AS created`;
}

/**
 * Writes with unique keys of one namespace: the always/absent ones as one
 * unnest upsert, the present/etag ones as one UPDATE ... FROM unnest, rows
 * proposed in the order given. One row per written key.
 */
export function writeEntries(sql: Queryable, table: EntryTable, ns: string, writes: ResolvedWrite[]) {
  const c = writeColumns(sql, writes);
  const modes = writes.map((w) => (typeof w.condition === 'string' ? w.condition : 'etag'));
  const expected = sql.array(writes.map((w) => (typeof w.condition === 'string' ? null : w.condition.etag)));
  return sql<{ key: string; created: boolean }[]>`
    WITH input AS (
      SELECT * FROM unnest(
        ${c.keys}::text[], ${c.values}::bytea[], ${c.contentTypes}::text[], ${c.etags}::text[],
        ${c.tags}::text[], ${c.ttls}::float8[], ${modes}::text[], ${expected}::text[]
      ) WITH ORDINALITY AS i(key, value, content_type, etag, tags, ttl, mode, expected, ord)
      WHERE ${storageGuard(sql, ns, table)}
    ),
    upserted AS (
      INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
      SELECT ${ns}, i.key, i.value, i.content_type, i.etag, ${tagsFromJson(sql)}, octet_length(i.value), ${expiryIn(sql, sql`i.ttl`)}
        FROM input AS i WHERE i.mode IN ('always', 'absent') ORDER BY i.ord
      ON CONFLICT (ns, key) DO UPDATE SET ${upsertSet(sql)}
      WHERE ${expired(sql)}
         OR NOT EXISTS (SELECT 1 FROM input WHERE input.key = excluded.key AND input.mode = 'absent')
      RETURNING e.key, ${wasCreated(sql)} AS created
    ),
    updated AS (
      UPDATE ${sql(table)} AS e SET
        value = i.value, content_type = i.content_type, etag = i.etag,
        tags = ${tagsFromJson(sql)}, size = octet_length(i.value),
        expires_at = ${expiryIn(sql, sql`i.ttl`)}, updated_at = now(), accessed_at = now()
        FROM input AS i
       WHERE i.mode IN ('present', 'etag') AND e.ns = ${ns} AND e.key = i.key AND ${live(sql)}
         AND (i.mode = 'present' OR e.etag = i.expected)
      RETURNING e.key, false AS created
    )
    SELECT key, created FROM upserted UNION ALL SELECT key, created FROM updated`;
}

/**
 * Adds `by` in one INSERT ... ON CONFLICT DO UPDATE, so the update sees the
 * latest row under its lock. A stored value that is not canonical decimal
 * within int64 is replaced by 'x' before the ::bigint cast (→ 22P02); int8
 * addition overflow raises 22003. An expired row restarts from 0 and takes the
 * new ttl; a live one keeps its expiry, content type and tags.
 */
export function incrementEntry(sql: Queryable, table: EntryTable, ns: string, key: string, by: string, etag: string, ttlMs: number | null) {
  const sum = sql`(
    CASE WHEN ${expired(sql)} THEN '0'
         WHEN octet_length(e.value) <= 20 AND encode(e.value, 'escape') ~ '^(0|-?[1-9][0-9]*)$'
              AND encode(e.value, 'escape')::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
         THEN encode(e.value, 'escape') ELSE 'x' END::int8 + ${by}::int8)::text`;
  const ifExpired = (then: Fragment, otherwise: Fragment) => sql`CASE WHEN ${expired(sql)} THEN ${then} ELSE ${otherwise} END`;
  return sql<{ n: string }[]>`
    INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
    SELECT ${ns}, ${key}, convert_to(${by}::int8::text, 'UTF8'), 'application/octet-stream', ${etag}, '{}'::text[],
           octet_length(${by}::int8::text), ${expiryIn(sql, ttlMs)}
     WHERE ${storageGuard(sql, ns, table)}
    ON CONFLICT (ns, key) DO UPDATE SET
      value = convert_to(${sum}, 'UTF8'),
      size = octet_length(${sum}),
      etag = excluded.etag,
      expires_at = ${ifExpired(sql`excluded.expires_at`, sql`e.expires_at`)},
      content_type = ${ifExpired(sql`excluded.content_type`, sql`e.content_type`)},
      tags = ${ifExpired(sql`excluded.tags`, sql`e.tags`)},
      created_at = ${ifExpired(sql`now()`, sql`e.created_at`)},
      hits = ${ifExpired(sql`0`, sql`e.hits`)},
      read_at = ${ifExpired(sql`NULL`, sql`e.read_at`)},
      updated_at = now()
    RETURNING convert_from(e.value, 'UTF8') AS n`;
}

/** Byte-wise order of UTF-8 keys: the order of COLLATE "C", so of the primary key (batches lock rows in this order). */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
