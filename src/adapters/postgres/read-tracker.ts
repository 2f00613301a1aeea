/**
 * Read statistics without a write per read.
 *
 * - Hit/miss (and local hit) counters are summed in memory per namespace and flushed to
 *   `namespaces.hits/misses/local_hits` with one statement per `counterFlushMs` (and on
 *   close). Only namespaces that exist (configured, or holding entries) keep
 *   their counts: a read never creates a namespaces row, so the counts of a
 *   made-up namespace are dropped at the flush.
 * - Recency (for LRU eviction) is coarse: keys read during an interval are
 *   remembered (at most `maxRecencyKeys`; beyond that a new key may take the
 *   place of the oldest remembered one, see remember()) and touched with one
 *   batched UPDATE per table per `recencyIntervalMs`. A key read many times in
 *   an interval costs one row update, so LRU order is only accurate to the
 *   interval. The same update adds the interval's reads to the entry's `hits`
 *   and sets `read_at` (top's hit count and lastAccessAt: approximate, see
 *   docs/spec/cache-port.md "Top entries").
 */
import type { PgContext } from './context.js';
import { ENTRY_TABLES, type EntryTable } from './tables.js';

/** Where the tracker writes; the Postgres one is pgReadStatsSink, tests pass a fake. */
export interface ReadStatsSink {
  /** Adds the counts to the namespaces that exist (configured or holding entries); drops the others'. */
  addCounts(names: string[], hits: number[], misses: number[], localHits: number[]): Promise<void>;
  /** Marks the keys read (accessed_at = read_at = now, hits += n); keys given in (ns, key) order. */
  touch(table: EntryTable, nss: string[], keys: string[], counts: number[]): Promise<void>;
}

export interface ReadTrackerOptions {
  counterFlushMs: number;
  recencyIntervalMs: number;
  maxRecencyKeys: number;
  /** Called when a background flush fails; the counts are kept for the next try. */
  onError?: (error: unknown) => void;
}

export const DEFAULT_READ_TRACKER_OPTIONS: ReadTrackerOptions = {
  counterFlushMs: 1000,
  recencyIntervalMs: 5000,
  maxRecencyKeys: 10_000,
};

interface Counts {
  hits: number;
  misses: number;
  /** Reads a server process answered from its local cache (CachePort.countLocalHits). */
  localHits: number;
}

interface RecencyBatch {
  /** `ns \0 key` → hits in this interval. */
  keys: Map<string, number>;
  /** Reads offered this interval: the later a new key comes, the less likely it is kept. */
  seen: number;
}

export class ReadTracker {
  private counts = new Map<string, Counts>();
  private inFlightCounts = new Map<string, Counts>();
  private recency = Object.fromEntries(ENTRY_TABLES.map((table) => [table, emptyBatch()])) as Record<EntryTable, RecencyBatch>;
  private readonly counterTimer: NodeJS.Timeout;
  private readonly recencyTimer: NodeJS.Timeout;
  private counterFlush: Promise<void> | undefined;
  private recencyFlush: Promise<void> | undefined;

  constructor(
    private readonly sink: ReadStatsSink,
    private readonly options: ReadTrackerOptions,
  ) {
    this.counterTimer = setInterval(
      () => void this.flushCounters().catch((e: unknown) => this.options.onError?.(e)),
      options.counterFlushMs,
    );
    this.counterTimer.unref();
    this.recencyTimer = setInterval(
      () => void this.flushRecency().catch((e: unknown) => this.options.onError?.(e)),
      options.recencyIntervalMs,
    );
    this.recencyTimer.unref();
  }

  hit(table: EntryTable, ns: string, key: string): void {
    bump(this.counts, ns).hits += 1;
    this.remember(this.recency[table], ns, key);
  }

  miss(ns: string): void {
    bump(this.counts, ns).misses += 1;
  }

  /** `count` reads answered from a local cache; with `read`, of that entry (its hits and recency, as hit() does). */
  localHits(ns: string, count: number, read?: { table: EntryTable; key: string }): void {
    if (count <= 0) return;
    bump(this.counts, ns).localHits += count;
    if (read !== undefined) for (let i = 0; i < count; i++) this.remember(this.recency[read.table], ns, read.key);
  }

  /** Counts not yet visible in the namespaces table (pending and in flight). */
  unflushed(ns: string): Counts {
    const pending = this.counts.get(ns);
    const inFlight = this.inFlightCounts.get(ns);
    return {
      hits: (pending?.hits ?? 0) + (inFlight?.hits ?? 0),
      misses: (pending?.misses ?? 0) + (inFlight?.misses ?? 0),
      localHits: (pending?.localHits ?? 0) + (inFlight?.localHits ?? 0),
    };
  }

  /** Drops what is buffered for a namespace (it was dropped). */
  forget(ns: string): void {
    this.counts.delete(ns);
    for (const batch of Object.values(this.recency)) {
      for (const id of batch.keys.keys()) if (id.startsWith(ns + '\u0000')) batch.keys.delete(id);
    }
  }

  async flushCounters(): Promise<void> {
    if (this.counterFlush) return this.counterFlush;
    if (this.counts.size === 0) return;
    const batch = this.counts;
    this.counts = new Map();
    this.inFlightCounts = batch;
    const names = [...batch.keys()].sort();
    const hits = names.map((n) => (batch.get(n) as Counts).hits);
    const misses = names.map((n) => (batch.get(n) as Counts).misses);
    const localHits = names.map((n) => (batch.get(n) as Counts).localHits);
    this.counterFlush = (async () => {
      try {
        await this.sink.addCounts(names, hits, misses, localHits);
      } catch (error) {
        for (const [ns, c] of batch) {
          const current = bump(this.counts, ns);
          current.hits += c.hits;
          current.misses += c.misses;
          current.localHits += c.localHits;
        }
        throw error;
      } finally {
        this.inFlightCounts = new Map();
        this.counterFlush = undefined;
      }
    })();
    return this.counterFlush;
  }

  async flushRecency(): Promise<void> {
    if (this.recencyFlush) return this.recencyFlush;
    // Nothing to touch: return before the IIFE, whose `finally` would otherwise run before the
    // assignment below and leave a settled promise in recencyFlush, so no later flush would run.
    if (ENTRY_TABLES.every((table) => this.recency[table].keys.size === 0)) return;
    this.recencyFlush = (async () => {
      try {
        for (const table of ENTRY_TABLES) {
          const batch = this.recency[table];
          if (batch.keys.size === 0) continue;
          this.recency[table] = emptyBatch();
          await this.touch(table, batch);
        }
      } finally {
        this.recencyFlush = undefined;
      }
    })();
    return this.recencyFlush;
  }

  /** Stops the timers and writes out everything buffered. */
  async close(): Promise<void> {
    clearInterval(this.counterTimer);
    clearInterval(this.recencyTimer);
    await this.counterFlush?.catch(() => {});
    await Promise.allSettled([this.flushCounters(), this.flushRecency()]);
  }

  private remember(batch: RecencyBatch, ns: string, key: string): void {
    const id = ns + '\u0000' + key;
    batch.seen += 1;
    const known = batch.keys.get(id);
    if (known !== undefined) {
      batch.keys.set(id, known + 1);
    } else if (batch.keys.size < this.options.maxRecencyKeys) {
      batch.keys.set(id, 1);
    } else if (Math.random() * batch.seen < this.options.maxRecencyKeys) {
      // Beyond the cap a new key is kept with probability max/seen, in place of the oldest
      // remembered key (not a uniform reservoir: early keys are evicted first).
      const victim = batch.keys.keys().next().value as string;
      batch.keys.delete(victim);
      batch.keys.set(id, 1);
    }
  }

  /** One statement per table, keys in (ns, key) order. */
  private async touch(table: EntryTable, batch: RecencyBatch): Promise<void> {
    const ids = [...batch.keys.keys()].sort();
    const nss: string[] = [];
    const keys: string[] = [];
    const counts: number[] = [];
    for (const id of ids) {
      const split = id.indexOf('\u0000');
      nss.push(id.slice(0, split));
      keys.push(id.slice(split + 1));
      counts.push(batch.keys.get(id) as number);
    }
    await this.sink.touch(table, nss, keys, counts);
  }
}

/** The tracker's statements, through the context (pool gate, timeout, deadlock retry). */
export function pgReadStatsSink(ctx: PgContext): ReadStatsSink {
  const { sql } = ctx;
  return {
    async addCounts(names, hits, misses, localHits) {
      await ctx.run(
        'flush read counters',
        () => sql`
        INSERT INTO namespaces AS n (name, hits, misses, local_hits)
        SELECT u.name, u.hits, u.misses, u.local_hits
          FROM unnest(${names}::text[], ${hits}::int8[], ${misses}::int8[], ${localHits}::int8[]) AS u(name, hits, misses, local_hits)
         WHERE EXISTS (SELECT 1 FROM namespaces WHERE name = u.name)
            OR EXISTS (SELECT 1 FROM entries WHERE ns = u.name)
            OR EXISTS (SELECT 1 FROM durable_entries WHERE ns = u.name)
        ON CONFLICT (name) DO UPDATE SET
          hits = n.hits + excluded.hits, misses = n.misses + excluded.misses, local_hits = n.local_hits + excluded.local_hits`,
      );
    },
    async touch(table, nss, keys, counts) {
      // Rows locked in key order first, as every other multi-row statement does (no deadlock with batch writes).
      await ctx.run(
        'touch recency',
        () => sql`
        WITH u AS (SELECT * FROM unnest(${nss}::text[], ${keys}::text[], ${counts}::int8[]) AS u(ns, key, n)),
             locked AS (
               SELECT t.ns, t.key, u.n FROM ${sql(table)} AS t JOIN u ON t.ns = u.ns AND t.key = u.key COLLATE "C"
                ORDER BY t.ns, t.key FOR UPDATE OF t
             )
        UPDATE ${sql(table)} AS t SET accessed_at = now(), read_at = now(), hits = t.hits + l.n
          FROM locked AS l WHERE t.ns = l.ns AND t.key = l.key`,
      );
    },
  };
}

function emptyBatch(): RecencyBatch {
  return { keys: new Map(), seen: 0 };
}

function bump(map: Map<string, Counts>, ns: string): Counts {
  let c = map.get(ns);
  if (!c) {
    c = { hits: 0, misses: 0, localHits: 0 };
    map.set(ns, c);
  }
  return c;
}
