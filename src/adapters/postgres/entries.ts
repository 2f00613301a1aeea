/**
 * Entries on Postgres: one statement per operation, prepared (postgres.js
 * tagged templates), on `entries` (UNLOGGED) or `durable_entries` (logged)
 * as the namespace's configuration says.
 *
 * Expired rows stay until cleanup deletes them, so every statement filters on
 * `expires_at > now()` (the database clock): an expired row is absent for
 * reads, conditions, `created` and counts, whether or not cleanup ran.
 */
import { IntegerOverflowError, NotAnIntegerError, ValidationError } from '../../core/errors.js';
import { newEtag } from '../../core/etag.js';
import { prefixUpperBound } from '../../core/keys.js';
import { validateWrite, type ValidatedWrite } from '../../core/write.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { CacheEntry, CacheValue, EntryStore, IncrementOptions, NamespaceConfig, SetManyItem, SetOptions, SetResult } from '../../core/port.js';
import {
  toIncrementBy, validateBatchSize, validateKey, validateKeys,
  validateNamespace, validatePrefix, validateTags, validateTtl,
} from '../../core/validation.js';
import { Coalescer, type CoalescerOptions, type CoalescerStats } from './coalescer.js';
import type { Sql } from './connection.js';
import type { PgContext } from './context.js';
import type { ReadTracker } from './read-tracker.js';
import { tableFor, type EntryTable } from './tables.js';

/** A write retried this often after a storage switch gives up (each switch needs one retry). */
const MAX_STORAGE_ATTEMPTS = 4;

interface EntryRow {
  key: string;
  /** 1-based position of the request in a coalesced batch (batched reads only). */
  i?: number;
  value: Buffer;
  content_type: string;
  etag: string;
  tags: string[];
  expires_ms: number | null;
}

/** A validated write whose ttl may still be the namespace default (undefined). */
type PendingWrite = ValidatedWrite;

/** A validated write with its ttl resolved (ms or null = no expiry), ready for SQL. */
type PreparedWrite = Omit<ValidatedWrite, 'ttl'> & { ttl: number | null };

/** A single-key read waiting to be coalesced. */
interface KeyRequest {
  ns: string;
  key: string;
}

/** An unconditional single-key write waiting to be coalesced. */
interface WriteRequest {
  ns: string;
  write: PreparedWrite;
}

/** The entry store plus the coalescing counters tests read. */
export type PgEntryStore = EntryStore & { coalescingStats(): CoalescingStats };

/** Per operation kind, summed over both tables. */
export interface CoalescingStats {
  get: CoalescerStats;
  set: CoalescerStats;
}

/**
 * @param coalescing how concurrent single-key gets and `always` sets are merged
 *   into one statement, or false to send one statement per call.
 */
export function createPgEntryStore(
  ctx: PgContext,
  configs: NamespaceConfigCache,
  tracker: ReadTracker,
  coalescing: CoalescerOptions | false = false,
): PgEntryStore {
  const { sql, options } = ctx;
  const getBatchers = new Map<EntryTable, Coalescer<KeyRequest, EntryRow | undefined>>();
  const setBatchers = new Map<EntryTable, Coalescer<WriteRequest, SetResult>>();

  function getBatcher(table: EntryTable, settings: CoalescerOptions): Coalescer<KeyRequest, EntryRow | undefined> {
    let batcher = getBatchers.get(table);
    if (!batcher) {
      batcher = new Coalescer((requests) => readBatch(sql, table, requests), settings, undefined, ctx.gate);
      getBatchers.set(table, batcher);
    }
    return batcher;
  }

  function setBatcher(table: EntryTable, settings: CoalescerOptions): Coalescer<WriteRequest, SetResult> {
    let batcher = setBatchers.get(table);
    if (!batcher) {
      batcher = new Coalescer(
        (requests) => upsertBatch(sql, table, requests), settings, (r) => rowId(r.ns, r.write.key), ctx.gate);
      setBatchers.set(table, batcher);
    }
    return batcher;
  }

  function coalescingStats(): CoalescingStats {
    const sum = (batchers: Iterable<{ stats(): CoalescerStats }>): CoalescerStats => {
      const total = { calls: 0, batches: 0 };
      for (const b of batchers) {
        const s = b.stats();
        total.calls += s.calls;
        total.batches += s.batches;
      }
      return total;
    };
    return { get: sum(getBatchers.values()), set: sum(setBatchers.values()) };
  }

  async function tableOf(ns: string): Promise<EntryTable> {
    return tableFor(await configs.get(ns));
  }

  /**
   * Runs a write against the namespace's table as cached; when the guard says the
   * namespace moved (nothing was written), reloads the config and tries again.
   */
  async function onCurrentTable<T>(ns: string, write: (config: NamespaceConfig, table: EntryTable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const config = await configs.get(ns);
      try {
        return await write(config, tableFor(config));
      } catch (error) {
        if (!isStorageMoved(error) || attempt >= MAX_STORAGE_ATTEMPTS) throw error;
        configs.invalidate(ns);
      }
    }
  }


  /** Fills in the namespace default ttl; called only after every input is validated. */
  function resolveTtl(config: NamespaceConfig, write: PendingWrite): PreparedWrite {
    return { ...write, ttl: write.ttl === undefined ? config.defaultTtl : write.ttl };
  }

  async function get(ns: string, key: string): Promise<CacheEntry | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const table = await tableOf(ns);
    const row = await (coalescing
      ? ctx.runQueued('get', (ticket) => getBatcher(table, coalescing).submit({ ns, key }, ticket))
      : ctx.run('get', () => readOne(sql, table, ns, key)));
    if (!row) {
      tracker.miss(ns);
      return undefined;
    }
    tracker.hit(table, ns, key);
    return toEntry(row);
  }

  async function getMany(ns: string, keys: string[]): Promise<(CacheEntry | undefined)[]> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    if (keys.length === 0) return [];
    const table = await tableOf(ns);
    const rows = await ctx.run('getMany', () => sql<EntryRow[]>`
      SELECT key, value, content_type, etag, tags, floor(extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
        FROM ${sql(table)}
       WHERE ns = ${ns} AND key = ANY(${keys}::text[]) AND (expires_at IS NULL OR expires_at > now())`);
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return keys.map((key) => {
      const row = byKey.get(key);
      if (!row) {
        tracker.miss(ns);
        return undefined;
      }
      tracker.hit(table, ns, key);
      return toEntry(row);
    });
  }

  async function set(ns: string, key: string, value: CacheValue, opts: SetOptions = {}): Promise<SetResult> {
    validateNamespace(ns);
    const pending = validateWrite(key, value, opts, options.maxValueBytes);
    // One config lookup serves both the default ttl and the table.
    return onCurrentTable(ns, (config, table) => {
      const write = resolveTtl(config, pending);
      // Only unconditional writes coalesce: a conditional one keeps its single guarded statement.
      if (coalescing && write.condition === 'always') {
        return ctx.runQueued('set', (ticket) => setBatcher(table, coalescing).submit({ ns, write }, ticket));
      }
      return ctx.run('set', () => writeOne(sql, table, ns, write));
    });
  }

  async function setMany(ns: string, items: SetManyItem[]): Promise<SetResult[]> {
    validateNamespace(ns);
    if (!Array.isArray(items)) throw new ValidationError({ name: 'items', reason: 'must be an array' });
    validateBatchSize(items.length, options.maxBatch, 'items');
    const pending = items.map((item, i) => validateWrite(item.key, item.value, item, options.maxValueBytes, `items[${i}].`));
    if (pending.length === 0) return [];
    return onCurrentTable(ns, (config, table) => {
      const writes = pending.map((write) => resolveTtl(config, write));
      const unique = new Set(writes.map((w) => w.key)).size === writes.length;
      if (!unique) {
        // A key given twice: apply the items in order, as separate sets would, in one transaction.
        return ctx.run('setMany', () => sql.begin(async (tx) => {
          const results: SetResult[] = [];
          for (const write of writes) results.push(await writeOne(tx as unknown as Sql, table, ns, write));
          return results;
        }) as Promise<SetResult[]>);
      }
      return ctx.run('setMany', () => writeBatch(sql, table, ns, writes));
    });
  }

  async function deleteOne(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('delete', () => sql<{ live: boolean }[]>`
      DELETE FROM ${sql(table)} WHERE ns = ${ns} AND key = ${key} AND ${storageGuard(sql, ns, table)}
      RETURNING (expires_at IS NULL OR expires_at > now()) AS live`));
    return rows[0]?.live === true;
  }

  async function deleteMany(ns: string, keys: string[]): Promise<number> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    if (keys.length === 0) return 0;
    const table = await tableOf(ns);
    const sorted = [...new Set(keys)].sort(compareBytes);
    const rows = await ctx.run('deleteMany', () => sql<{ n: number }[]>`
      WITH d AS (
        DELETE FROM ${sql(table)} WHERE ns = ${ns} AND key = ANY(${sorted}::text[])
        RETURNING expires_at
      )
      SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now())::int AS n FROM d`);
    return rows[0]?.n ?? 0;
  }

  async function has(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    const table = await tableOf(ns);
    const rows = await ctx.run('has', () => sql<{ found: boolean }[]>`
      SELECT EXISTS (
        SELECT 1 FROM ${sql(table)}
         WHERE ns = ${ns} AND key = ${key} AND (expires_at IS NULL OR expires_at > now())
      ) AS found`);
    return rows[0]?.found === true;
  }

  async function ttl(ns: string, key: string): Promise<number | null | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const table = await tableOf(ns);
    const rows = await ctx.run('ttl', () => sql<{ remaining: number | null }[]>`
      SELECT ceil(extract(epoch FROM expires_at - now()) * 1000)::float8 AS remaining
        FROM ${sql(table)}
       WHERE ns = ${ns} AND key = ${key} AND (expires_at IS NULL OR expires_at > now())`);
    const row = rows[0];
    if (!row) return undefined;
    return row.remaining === null ? null : Math.max(1, row.remaining);
  }

  async function expire(ns: string, key: string, ttlMs: number | null): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    if (ttlMs === undefined) throw new ValidationError({ name: 'ttl', reason: 'is required (milliseconds, or null for no expiry)' });
    validateTtl(ttlMs);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('expire', () => sql`
      UPDATE ${sql(table)}
         SET expires_at = now() + ${ttlMs}::float8 * interval '1 millisecond', updated_at = now()
       WHERE ns = ${ns} AND key = ${key} AND (expires_at IS NULL OR expires_at > now()) AND ${storageGuard(sql, ns, table)}
      RETURNING 1`));
    return rows.length > 0;
  }

  async function increment(ns: string, key: string, by?: bigint | number, opts: IncrementOptions = {}): Promise<bigint> {
    validateNamespace(ns);
    validateKey(key);
    const delta = toIncrementBy(by);
    validateTtl(opts.ttl);
    try {
      const rows = await onCurrentTable(ns, (config, table) => {
        const ttlMs = opts.ttl === undefined ? config.defaultTtl : opts.ttl;
        return ctx.run('increment', () => incrementOne(sql, table, ns, key, delta, ttlMs));
      });
      return BigInt((rows[0] as { n: string }).n);
    } catch (error) {
      // The guard in SQL turns a bad stored value into 22P02 and the addition overflows with 22003;
      // either aborts the statement, so nothing changed.
      const code = (error as { code?: unknown }).code;
      if (code === '22P02') throw new NotAnIntegerError(key);
      if (code === '22003') throw new IntegerOverflowError(key);
      throw error;
    }
  }

  async function deleteByPrefix(ns: string, prefix: string): Promise<number> {
    validateNamespace(ns);
    validatePrefix(prefix);
    const table = await tableOf(ns);
    const upper = prefixUpperBound(prefix);
    // A key range on the primary key (keys are COLLATE "C"): O(matched), no LIKE pattern to escape.
    const rows = await ctx.run('deleteByPrefix', () => (upper === undefined
      ? sql<{ n: number }[]>`
          WITH d AS (DELETE FROM ${sql(table)} WHERE ns = ${ns} AND key >= ${prefix} RETURNING expires_at)
          SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now())::int AS n FROM d`
      : sql<{ n: number }[]>`
          WITH d AS (DELETE FROM ${sql(table)} WHERE ns = ${ns} AND key >= ${prefix} AND key < ${upper} RETURNING expires_at)
          SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now())::int AS n FROM d`));
    return rows[0]?.n ?? 0;
  }

  async function invalidateTags(ns: string, tags: string[]): Promise<number> {
    validateNamespace(ns);
    validateTags(tags, 'tags', false);
    const table = await tableOf(ns);
    // `tags && $2` is served by the GIN index on tags.
    const rows = await ctx.run('invalidateTags', () => sql<{ n: number }[]>`
      WITH d AS (
        DELETE FROM ${sql(table)} WHERE ns = ${ns} AND tags && ${tags}::text[]
        RETURNING expires_at
      )
      SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now())::int AS n FROM d`);
    return rows[0]?.n ?? 0;
  }

  async function clear(ns: string): Promise<number> {
    validateNamespace(ns);
    return ctx.run('clear', () => clearNamespace(sql, ns));
  }

  return {
    get, getMany, set, setMany, delete: deleteOne, deleteMany, has, ttl, expire, increment, deleteByPrefix, invalidateTags, clear,
    coalescingStats,
  };
}

/** One live entry by key, or undefined. */
async function readOne(sql: Sql, table: EntryTable, ns: string, key: string): Promise<EntryRow | undefined> {
  const rows = await sql<EntryRow[]>`
    SELECT key, value, content_type, etag, tags, floor(extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
      FROM ${sql(table)}
     WHERE ns = ${ns} AND key = ${key} AND (expires_at IS NULL OR expires_at > now())`;
  return rows[0];
}

/**
 * Coalesced gets: one statement for many (ns, key) requests, possibly of
 * several namespaces and repeated keys; row `i` answers request `i`. A batch
 * of one uses the single-key statement.
 */
async function readBatch(sql: Sql, table: EntryTable, requests: KeyRequest[]): Promise<(EntryRow | undefined)[]> {
  if (requests.length === 1) {
    const only = requests[0] as KeyRequest;
    return [await readOne(sql, table, only.ns, only.key)];
  }
  const ns = (requests[0] as KeyRequest).ns;
  if (requests.every((r) => r.ns === ns)) return readOneNamespace(sql, table, ns, requests);
  const nss = requests.map((r) => r.ns);
  const keys = requests.map((r) => r.key);
  // COLLATE "C" matches the key column, so the join probes the primary key.
  const rows = await sql<EntryRow[]>`
    SELECT q.i::int4 AS i, e.key, e.value, e.content_type, e.etag, e.tags,
           floor(extract(epoch FROM e.expires_at) * 1000)::float8 AS expires_ms
      FROM unnest(${nss}::text[], ${keys}::text[]) WITH ORDINALITY AS q(ns, key, i)
      JOIN ${sql(table)} AS e ON e.ns = q.ns AND e.key = q.key COLLATE "C"
     WHERE e.expires_at IS NULL OR e.expires_at > now()`;
  const results: (EntryRow | undefined)[] = new Array<EntryRow | undefined>(requests.length).fill(undefined);
  for (const row of rows) results[(row.i as number) - 1] = row;
  return results;
}

/**
 * The common batch: one namespace, so `key = ANY($2)` (one index scan, about
 * half the server time of the unnest join). A key asked twice is fetched once;
 * each later caller gets its own copy of the value.
 */
async function readOneNamespace(sql: Sql, table: EntryTable, ns: string, requests: KeyRequest[]): Promise<(EntryRow | undefined)[]> {
  const keys = [...new Set(requests.map((r) => r.key))];
  const rows = await sql<EntryRow[]>`
    SELECT key, value, content_type, etag, tags, floor(extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
      FROM ${sql(table)}
     WHERE ns = ${ns} AND key = ANY(${keys}::text[]) AND (expires_at IS NULL OR expires_at > now())`;
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const handedOut = new Set<string>();
  return requests.map((r) => {
    const row = byKey.get(r.key);
    if (!row) return undefined;
    if (!handedOut.has(r.key)) {
      handedOut.add(r.key);
      return row;
    }
    return { ...row, value: Buffer.from(row.value), tags: [...row.tags] };
  });
}

/**
 * Coalesced unconditional sets: one unnest upsert, rows proposed in (ns, key)
 * byte order so concurrent batches lock rows in one order (no deadlock). The
 * coalescer never puts one key twice in a batch (ON CONFLICT cannot touch a row
 * twice). `created` as in writeOne. A batch of one uses writeOne.
 */
async function upsertBatch(sql: Sql, table: EntryTable, requests: WriteRequest[]): Promise<SetResult[]> {
  if (requests.length === 1) {
    const only = requests[0] as WriteRequest;
    return [await writeOne(sql, table, only.ns, only.write)];
  }
  const sorted = [...requests].sort((a, b) => compareBytes(a.ns, b.ns) || compareBytes(a.write.key, b.write.key));
  const nss = sorted.map((r) => r.ns);
  const keys = sorted.map((r) => r.write.key);
  const values = sorted.map((r) => r.write.value);
  const contentTypes = sorted.map((r) => r.write.contentType);
  const etags = sorted.map((r) => r.write.etag);
  const tags = sorted.map((r) => JSON.stringify(r.write.tags));
  const ttls = sorted.map((r) => r.write.ttl);
  const rows = await sql<{ ns: string; key: string; created: boolean }[]>`
    INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
    SELECT ns, key, value, content_type, etag,
           CASE WHEN i.tags = '[]' THEN '{}'::text[] ELSE ARRAY(SELECT jsonb_array_elements_text(i.tags::jsonb)) END,
           octet_length(value),
           now() + ttl * interval '1 millisecond'
      FROM unnest(
        ${nss}::text[], ${keys}::text[], ${sql.array(values)}::bytea[], ${contentTypes}::text[], ${etags}::text[],
        ${tags}::text[], ${sql.array(ttls)}::float8[]
      ) WITH ORDINALITY AS i(ns, key, value, content_type, etag, tags, ttl, ord)
     WHERE ${storageGuardAll(sql, nss, table)}
     ORDER BY ord
    ON CONFLICT (ns, key) DO UPDATE SET
      value = excluded.value, content_type = excluded.content_type, etag = excluded.etag,
      tags = excluded.tags, size = excluded.size, expires_at = excluded.expires_at,
      updated_at = now(), accessed_at = now(),
      created_at = CASE WHEN e.expires_at IS NULL OR e.expires_at > now() THEN e.created_at ELSE now() END,
      hits = CASE WHEN e.expires_at IS NULL OR e.expires_at > now() THEN e.hits ELSE 0 END
    RETURNING e.ns, e.key, (xmax = 0 OR e.created_at = now()) AS created`;
  const created = new Map(rows.map((r) => [rowId(r.ns, r.key), r.created]));
  return requests.map((r) => {
    const wasCreated = created.get(rowId(r.ns, r.write.key));
    // An unconditional upsert writes every row; a missing one would be a bug, not a miss.
    if (wasCreated === undefined) throw new Error(`coalesced set of ${JSON.stringify(r.write.key)} returned no row`);
    return { written: true, etag: r.write.etag, created: wasCreated };
  });
}

/**
 * The storage guard (migration 0008) as a one-time filter: evaluated once, before
 * the statement touches a row. It holds the namespace's lock in shared mode to the
 * end of the statement and fails with CP001 when the namespace no longer lives in
 * `table` (a durable switch or drop committed since the config was cached).
 */
function storageGuard(sql: Sql, ns: string, table: EntryTable) {
  return sql`(SELECT cacheport_entry_guard(${ns}, ${table === 'durable_entries'}))`;
}

/** The guard for every namespace of a coalesced batch, in byte order (a fixed lock order). */
function storageGuardAll(sql: Sql, nss: string[], table: EntryTable) {
  const distinct = [...new Set(nss)].sort(compareBytes);
  if (distinct.length === 1) return storageGuard(sql, distinct[0] as string, table);
  return sql`(SELECT bool_and(cacheport_entry_guard(n, ${table === 'durable_entries'}))
                FROM unnest(${distinct}::text[]) WITH ORDINALITY AS g(n, ord))`;
}

/** SQLSTATE raised by cacheport_entry_guard: the namespace moved to the other table. */
const STORAGE_MOVED = 'CP001';

export function isStorageMoved(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === STORAGE_MOVED;
}

/** One (ns, key) as a map key: the coalescer merges by it and upsertBatch matches rows back by it. */
function rowId(ns: string, key: string): string {
  return ns + '\u0000' + key;
}

/**
 * Deletes a namespace's entries from both tables (a process with a stale
 * config may have written to the other one) and returns how many were live.
 */
export async function clearNamespace(sql: Sql, ns: string): Promise<number> {
  const rows = await sql<{ n: number }[]>`
    WITH a AS (DELETE FROM entries WHERE ns = ${ns} RETURNING expires_at),
         b AS (DELETE FROM durable_entries WHERE ns = ${ns} RETURNING expires_at)
    SELECT count(*) FILTER (WHERE expires_at IS NULL OR expires_at > now())::int AS n
      FROM (SELECT expires_at FROM a UNION ALL SELECT expires_at FROM b) AS d`;
  return rows[0]?.n ?? 0;
}

/**
 * One conditional write in one statement.
 * - always / absent: INSERT ... ON CONFLICT DO UPDATE, the update guarded for
 *   `absent` by "the existing row has expired".
 * - present / etag: UPDATE of the live row (an upsert could not refuse to insert).
 * `created` is true when no live entry existed: a fresh insert, or an expired
 * row being replaced (which then gets created_at = now()).
 */
async function writeOne(sql: Sql, table: EntryTable, ns: string, w: PreparedWrite): Promise<SetResult> {
  const size = w.value.byteLength;
  if (w.condition === 'always' || w.condition === 'absent') {
    const onlyIfAbsent = w.condition === 'absent';
    const rows = await sql<{ created: boolean }[]>`
      INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
      SELECT ${ns}, ${w.key}, ${w.value}, ${w.contentType}, ${w.etag}, ${w.tags}::text[], ${size},
             now() + ${w.ttl}::float8 * interval '1 millisecond'
       WHERE ${storageGuard(sql, ns, table)}
      ON CONFLICT (ns, key) DO UPDATE SET
        value = excluded.value, content_type = excluded.content_type, etag = excluded.etag,
        tags = excluded.tags, size = excluded.size, expires_at = excluded.expires_at,
        updated_at = now(), accessed_at = now(),
        created_at = CASE WHEN e.expires_at IS NULL OR e.expires_at > now() THEN e.created_at ELSE now() END,
        hits = CASE WHEN e.expires_at IS NULL OR e.expires_at > now() THEN e.hits ELSE 0 END
      WHERE NOT ${onlyIfAbsent}::boolean OR (e.expires_at IS NOT NULL AND e.expires_at <= now())
      RETURNING (xmax = 0 OR created_at = now()) AS created`;
    return rows.length > 0 ? { written: true, etag: w.etag, created: rows[0]?.created === true } : { written: false };
  }
  const expected = w.condition === 'present' ? null : w.condition.etag;
  const rows = await sql`
    UPDATE ${sql(table)} SET
      value = ${w.value}, content_type = ${w.contentType}, etag = ${w.etag}, tags = ${w.tags}::text[], size = ${size},
      expires_at = now() + ${w.ttl}::float8 * interval '1 millisecond', updated_at = now(), accessed_at = now()
    WHERE ns = ${ns} AND key = ${w.key} AND (expires_at IS NULL OR expires_at > now())
      AND (${expected}::text IS NULL OR etag = ${expected}::text) AND ${storageGuard(sql, ns, table)}
    RETURNING 1`;
  return rows.length > 0 ? { written: true, etag: w.etag, created: false } : { written: false };
}

/**
 * Many writes with unique keys in one statement: the always/absent items as
 * one unnest upsert, the present/etag items as one UPDATE ... FROM unnest.
 * Rows are proposed in key order, so two batches lock rows in the same order
 * (no deadlock) as long as each uses one condition group; a batch mixing
 * upserts and conditional updates locks the upserts first.
 */
async function writeBatch(sql: Sql, table: EntryTable, ns: string, writes: PreparedWrite[]): Promise<SetResult[]> {
  const sorted = [...writes].sort((a, b) => compareBytes(a.key, b.key));
  const keys = sorted.map((w) => w.key);
  const values = sorted.map((w) => w.value);
  const contentTypes = sorted.map((w) => w.contentType);
  const etags = sorted.map((w) => w.etag);
  const tags = sorted.map((w) => JSON.stringify(w.tags));
  const ttls = sorted.map((w) => w.ttl);
  const modes = sorted.map((w) => (typeof w.condition === 'string' ? w.condition : 'etag'));
  const expected = sorted.map((w) => (typeof w.condition === 'string' ? null : w.condition.etag));
  const rows = await sql<{ key: string; created: boolean }[]>`
    WITH input AS (
      SELECT * FROM unnest(
        ${keys}::text[], ${sql.array(values)}::bytea[], ${contentTypes}::text[], ${etags}::text[],
        ${tags}::text[], ${sql.array(ttls)}::float8[], ${modes}::text[], ${sql.array(expected)}::text[]
      ) WITH ORDINALITY AS i(key, value, content_type, etag, tags, ttl, mode, expected, ord)
      WHERE ${storageGuard(sql, ns, table)}
    ),
    upserted AS (
      INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
      SELECT ${ns}, key, value, content_type, etag,
             ARRAY(SELECT jsonb_array_elements_text(input.tags::jsonb)), octet_length(value),
             now() + ttl * interval '1 millisecond'
        FROM input WHERE mode IN ('always', 'absent') ORDER BY ord
      ON CONFLICT (ns, key) DO UPDATE SET
        value = excluded.value, content_type = excluded.content_type, etag = excluded.etag,
        tags = excluded.tags, size = excluded.size, expires_at = excluded.expires_at,
        updated_at = now(), accessed_at = now(),
        created_at = CASE WHEN e.expires_at IS NULL OR e.expires_at > now() THEN e.created_at ELSE now() END,
        hits = CASE WHEN e.expires_at IS NULL OR e.expires_at > now() THEN e.hits ELSE 0 END
      WHERE (e.expires_at IS NOT NULL AND e.expires_at <= now())
         OR NOT EXISTS (SELECT 1 FROM input WHERE input.key = excluded.key AND input.mode = 'absent')
      RETURNING e.key, (xmax = 0 OR e.created_at = now()) AS created
    ),
    updated AS (
      UPDATE ${sql(table)} AS e SET
        value = input.value, content_type = input.content_type, etag = input.etag,
        tags = ARRAY(SELECT jsonb_array_elements_text(input.tags::jsonb)), size = octet_length(input.value),
        expires_at = now() + input.ttl * interval '1 millisecond', updated_at = now(), accessed_at = now()
        FROM input
       WHERE input.mode IN ('present', 'etag') AND e.ns = ${ns} AND e.key = input.key
         AND (e.expires_at IS NULL OR e.expires_at > now())
         AND (input.mode = 'present' OR e.etag = input.expected)
      RETURNING e.key, false AS created
    )
    SELECT key, created FROM upserted UNION ALL SELECT key, created FROM updated`;
  const written = new Map(rows.map((r) => [r.key, r.created]));
  return writes.map((w) => {
    const created = written.get(w.key);
    return created === undefined ? { written: false } : { written: true, etag: w.etag, created };
  });
}

/**
 * Adds `delta` in one INSERT ... ON CONFLICT DO UPDATE, so the update sees the
 * latest row under its lock. A stored value that is not canonical decimal
 * within int64 is replaced by 'x' before the ::bigint cast (→ 22P02); int8
 * addition overflow raises 22003. An expired row restarts from 0 and takes the
 * new ttl; a live one keeps its expiry, content type and tags.
 */
function incrementOne(sql: Sql, table: EntryTable, ns: string, key: string, delta: bigint, ttlMs: number | null) {
  const by = delta.toString();
  return sql<{ n: string }[]>`
    INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, tags, size, expires_at)
    SELECT ${ns}, ${key}, convert_to(${by}::int8::text, 'UTF8'), 'application/octet-stream', ${newEtag()}, '{}'::text[],
           octet_length(${by}::int8::text), now() + ${ttlMs}::float8 * interval '1 millisecond'
     WHERE ${storageGuard(sql, ns, table)}
    ON CONFLICT (ns, key) DO UPDATE SET
      value = convert_to((
        CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN '0'
             WHEN octet_length(e.value) <= 20 AND encode(e.value, 'escape') ~ '^(0|-?[1-9][0-9]*)$'
                  AND encode(e.value, 'escape')::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
             THEN encode(e.value, 'escape') ELSE 'x' END::int8 + ${by}::int8)::text, 'UTF8'),
      size = octet_length((
        CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN '0'
             WHEN octet_length(e.value) <= 20 AND encode(e.value, 'escape') ~ '^(0|-?[1-9][0-9]*)$'
                  AND encode(e.value, 'escape')::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
             THEN encode(e.value, 'escape') ELSE 'x' END::int8 + ${by}::int8)::text),
      etag = excluded.etag,
      expires_at = CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN excluded.expires_at ELSE e.expires_at END,
      content_type = CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN excluded.content_type ELSE e.content_type END,
      tags = CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN excluded.tags ELSE e.tags END,
      created_at = CASE WHEN e.expires_at IS NOT NULL AND e.expires_at <= now() THEN now() ELSE e.created_at END,
      updated_at = now()
    RETURNING convert_from(e.value, 'UTF8') AS n`;
}

function toEntry(row: EntryRow): CacheEntry {
  return {
    value: row.value,
    contentType: row.content_type,
    etag: row.etag,
    expiresAt: row.expires_ms,
    tags: row.tags,
  };
}

/** Byte-wise order of UTF-8 keys, the order of COLLATE "C" and of the primary key. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
