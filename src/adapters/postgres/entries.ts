/**
 * Entries on Postgres: one statement per operation (entry-sql.ts), on
 * `entries` (UNLOGGED) or `durable_entries` (logged) as the namespace's
 * configuration says. Concurrent single-key gets and unconditional sets may
 * be coalesced into one statement per batch.
 */
import { IntegerOverflowError, NotAnIntegerError, ValidationError } from '../../core/errors.js';
import { newEtag } from '../../core/etag.js';
import { prefixUpperBound } from '../../core/keys.js';
import { resolveTtl, resolveWrite, validateExpireTtl, validateWrite, type ResolvedWrite } from '../../core/write.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type {
  CacheEntry,
  CacheValue,
  EntryStore,
  IncrementOptions,
  NamespaceConfig,
  SetManyItem,
  SetOptions,
  SetResult,
} from '../../core/port.js';
import {
  toIncrementBy,
  validateBatchSize,
  validateKey,
  validateKeys,
  validateNamespace,
  validatePrefix,
  validateTags,
  validateTtl,
} from '../../core/validation.js';
import type { CoalescerOptions } from './coalescer.js';
import type { Queryable } from './connection.js';
import type { PgContext } from './context.js';
import { writeOnCurrentTable } from './current-table.js';
import { EntryCoalescing, type CoalescingStats } from './entry-coalescing.js';
import {
  compareBytes,
  deleteEntries,
  deleteEntry,
  deleteKeyRange,
  deleteNamespaceEntries,
  deleteTagged,
  entryExists,
  incrementEntry,
  remainingTtl,
  selectEntries,
  selectEntry,
  setExpiry,
  writeEntries,
  writeEntry,
  type EntryRow,
} from './entry-sql.js';
import type { ReadTracker } from './read-tracker.js';
import { tableFor, type EntryTable } from './tables.js';

/** The entry store plus the coalescing counters tests read. */
export type PgEntryStore = EntryStore & { coalescingStats(): CoalescingStats };

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
  const coalesced = coalescing ? new EntryCoalescing(sql, coalescing, ctx.gate) : undefined;

  async function tableOf(ns: string): Promise<EntryTable> {
    return tableFor(await configs.get(ns));
  }

  /** A write on the namespace's current table (see current-table.ts). */
  function onCurrentTable<T>(ns: string, write: (config: NamespaceConfig, table: EntryTable) => Promise<T>): Promise<T> {
    return writeOnCurrentTable(configs, options.timeoutMs, ns, write);
  }

  async function get(ns: string, key: string): Promise<CacheEntry | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const table = await tableOf(ns);
    const row = await (coalesced
      ? ctx.runQueued('get', (ticket) => coalesced.get(table, ns, key, ticket))
      : ctx.run('get', async () => (await selectEntry(sql, table, ns, key))[0]));
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
    const rows = await ctx.run('getMany', () => selectEntries(sql, table, ns, keys));
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
      const write = resolveWrite(pending, config);
      // Only unconditional writes coalesce: a conditional one keeps its single guarded statement.
      if (coalesced && write.condition === 'always') return ctx.runQueued('set', (ticket) => coalesced.set(table, ns, write, ticket));
      return ctx.run('set', () => writeEntry(sql, table, ns, write));
    });
  }

  async function setMany(ns: string, items: SetManyItem[]): Promise<SetResult[]> {
    validateNamespace(ns);
    if (!Array.isArray(items)) throw new ValidationError({ name: 'items', reason: 'must be an array' });
    validateBatchSize(items.length, options.maxBatch, 'items');
    const pending = items.map((item, i) => validateWrite(item.key, item.value, item, options.maxValueBytes, `items[${i}].`));
    if (pending.length === 0) return [];
    return onCurrentTable(ns, (config, table) => {
      const writes = pending.map((write) => resolveWrite(write, config));
      const unique = new Set(writes.map((w) => w.key)).size === writes.length;
      if (!unique) {
        // A key given twice: apply the items in order, as separate sets would, in one transaction.
        return ctx.run(
          'setMany',
          () =>
            sql.begin(async (tx) => {
              const results: SetResult[] = [];
              for (const write of writes) results.push(await writeEntry(tx, table, ns, write));
              return results;
            }) as Promise<SetResult[]>,
        );
      }
      return ctx.run('setMany', () => writeBatch(sql, table, ns, writes));
    });
  }

  async function deleteOne(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('delete', () => deleteEntry(sql, table, ns, key)));
    return rows[0]?.live === true;
  }

  async function deleteMany(ns: string, keys: string[]): Promise<number> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    if (keys.length === 0) return 0;
    const sorted = [...new Set(keys)].sort(compareBytes);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('deleteMany', () => deleteEntries(sql, table, ns, sorted)));
    return rows[0]?.n ?? 0;
  }

  async function has(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    const table = await tableOf(ns);
    const rows = await ctx.run('has', () => entryExists(sql, table, ns, key));
    return rows[0]?.found === true;
  }

  async function ttl(ns: string, key: string): Promise<number | null | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const table = await tableOf(ns);
    const rows = await ctx.run('ttl', () => remainingTtl(sql, table, ns, key));
    const row = rows[0];
    if (!row) return undefined;
    return row.remaining === null ? null : Math.max(1, row.remaining);
  }

  async function expire(ns: string, key: string, ttlMs: number | null): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    validateExpireTtl(ttlMs);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('expire', () => setExpiry(sql, table, ns, key, ttlMs)));
    return rows.length > 0;
  }

  async function increment(ns: string, key: string, by?: bigint | number, opts: IncrementOptions = {}): Promise<bigint> {
    validateNamespace(ns);
    validateKey(key);
    const delta = toIncrementBy(by);
    validateTtl(opts.ttl);
    try {
      const rows = await onCurrentTable(ns, (config, table) => {
        const ttlMs = resolveTtl(opts.ttl, config);
        return ctx.run('increment', () => incrementEntry(sql, table, ns, key, delta.toString(), newEtag(), ttlMs));
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
    const upper = prefixUpperBound(prefix);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('deleteByPrefix', () => deleteKeyRange(sql, table, ns, prefix, upper)));
    return rows[0]?.n ?? 0;
  }

  async function invalidateTags(ns: string, tags: string[]): Promise<number> {
    validateNamespace(ns);
    validateTags(tags, 'tags', false);
    const rows = await onCurrentTable(ns, (_, table) => ctx.run('invalidateTags', () => deleteTagged(sql, table, ns, tags)));
    return rows[0]?.n ?? 0;
  }

  async function clear(ns: string): Promise<number> {
    validateNamespace(ns);
    return ctx.run('clear', () => clearNamespace(sql, ns));
  }

  return {
    get,
    getMany,
    set,
    setMany,
    delete: deleteOne,
    deleteMany,
    has,
    ttl,
    expire,
    increment,
    deleteByPrefix,
    invalidateTags,
    clear,
    coalescingStats: () => coalesced?.stats() ?? { get: { calls: 0, batches: 0 }, set: { calls: 0, batches: 0 } },
  };
}

/**
 * Deletes a namespace's entries from both tables (a process with a stale
 * config may have written to the other one) and returns how many were live.
 */
export async function clearNamespace(sql: Queryable, ns: string): Promise<number> {
  return (await deleteNamespaceEntries(sql, ns))[0]?.n ?? 0;
}

/**
 * Many writes with unique keys in one statement. Rows are proposed in key
 * order, so two batches lock rows in the same order (no deadlock) as long as
 * each uses one condition group; a batch mixing upserts and conditional
 * updates locks the upserts first.
 */
async function writeBatch(sql: Queryable, table: EntryTable, ns: string, writes: ResolvedWrite[]): Promise<SetResult[]> {
  const rows = await writeEntries(
    sql,
    table,
    ns,
    [...writes].sort((a, b) => compareBytes(a.key, b.key)),
  );
  const written = new Map(rows.map((r) => [r.key, r.created]));
  return writes.map((w) => {
    const created = written.get(w.key);
    return created === undefined ? { written: false } : { written: true, etag: w.etag, created };
  });
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
