/**
 * Read statistics, batched in memory and flushed about once a second, so a
 * get costs no extra round trip:
 *
 * - per-namespace hit/miss counters (HINCRBY on the namespace's counters);
 * - per-key read counts for top(): the reads of each key since the last flush
 *   and the time of the last one. The flush adds them to the entry hash
 *   (HINCRBY field `h`, field `r` = last read, epoch ms) and mirrors `h` into
 *   the namespace's `#hits` zset. Only entries that still exist are counted,
 *   so the count lives and dies with the entry: kept over a rewrite of a live
 *   entry, gone with it when it expires, is evicted or deleted. At most
 *   MAX_TRACKED_KEYS distinct keys are held between flushes; reads of further
 *   keys count for the namespace's hits but not per key until the next flush.
 *
 * Counts not yet flushed are added by stats(); counts of a flush that failed
 * are kept for the next one (a crash loses at most one interval). A
 * namespace's per-key counts are written in chunks of FLUSH_CHUNK_KEYS keys,
 * one script call each (the first also adds the hit/miss totals), sent one
 * after the other so Redis serves other clients in between.
 */
import type { RedisContext } from './context.js';
import { namespaceKeys } from './namespace-keys.js';
import { defineScript, replyInt } from './scripts.js';

/** Distinct keys whose reads are held per flush interval, over all namespaces (as the Postgres read tracker). */
export const MAX_TRACKED_KEYS = 10_000;
/**
 * Keys per flush script. A key costs the script ~5 commands: one script over
 * all 10,000 tracked keys blocked Redis for 30–300 ms (SLOWLOG, loaded 2-core
 * machine), stalling every other client once a second; 200-key chunks still
 * took ~12 ms there, so chunks are small: well under a millisecond on an idle
 * Redis, a few on that machine, with other clients served in between.
 */
export const FLUSH_CHUNK_KEYS = 50;

/**
 * Adds counts only to a namespace that exists (configured or holding a key),
 * so reads of made-up namespaces create nothing; atomic, so all counts land
 * or none does. ARGV after hits, misses and local hits: (key, reads, last read ms) triples;
 * a key whose entry is gone is skipped; a later read moves the entry's LRU access time ('a') on.
 * Returns 1 when counted.
 */
const addCounts = defineScript({
  name: 'cp_count_reads',
  keys: ['counters', 'config', 'keysIndex', 'hitsIndex'],
  args: ['hits', 'misses', 'localHits'],
  restArgs: true,
  decode: (r) => replyInt(r, 'cp_count_reads') === 1,
  source: `
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
if ARGV[1] ~= '0' then redis.call('HINCRBY', KEYS[1], 'hits', ARGV[1]) end
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], 'misses', ARGV[2]) end
if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'localHits', ARGV[3]) end
local base = string.sub(KEYS[3], 1, -6)
for i = 4, #ARGV, 3 do
  local entry = base .. ':' .. ARGV[i]
  if redis.call('EXISTS', entry) == 1 then
    local h = redis.call('HINCRBY', entry, 'h', ARGV[i + 1])
    local r = tonumber(redis.call('HGET', entry, 'r') or '0')
    if tonumber(ARGV[i + 2]) > r then redis.call('HSET', entry, 'r', ARGV[i + 2]) end
    -- LRU recency ('a', kept by bounded namespaces): reads a server answered from memory count too.
    local a = redis.call('HGET', entry, 'a')
    if a and a ~= '' and tonumber(ARGV[i + 2]) > tonumber(a) then redis.call('HSET', entry, 'a', ARGV[i + 2]) end
    redis.call('ZADD', KEYS[4], -h, ARGV[i])
  end
end
return 1
`,
});

interface KeyReads {
  reads: number;
  lastMs: number;
}

interface Pending {
  hits: number;
  misses: number;
  /** Reads a server process answered from its local cache (CachePort.countLocalHits). */
  localHits: number;
  keys: Map<string, KeyReads>;
}

export type UnflushedCounts = Omit<Pending, 'keys'>;

export class HitCounter {
  private pending = new Map<string, Pending>();
  private inFlight = new Map<string, Pending>();
  private trackedKeys = 0;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly ctx: RedisContext,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  /** A read that found `key`: in memory only (two map updates), written out by the next flush. */
  hit(ns: string, key: string): void {
    const p = this.entry(ns);
    p.hits += 1;
    this.addReads(p, key, 1, Date.now());
  }

  miss(ns: string): void {
    this.entry(ns).misses += 1;
  }

  /** `n` reads answered from a local cache; with `key`, of that entry (its reads, as hit() counts them). */
  localHits(ns: string, n: number, key?: string): void {
    if (n <= 0) return;
    const p = this.entry(ns);
    p.localHits += n;
    if (key !== undefined) this.addReads(p, key, n, Date.now());
  }

  /** Pending and in-flight counts (a flush in flight has not landed yet). */
  unflushed(ns: string): UnflushedCounts {
    const p = this.pending.get(ns);
    const f = this.inFlight.get(ns);
    return {
      hits: (p?.hits ?? 0) + (f?.hits ?? 0),
      misses: (p?.misses ?? 0) + (f?.misses ?? 0),
      localHits: (p?.localHits ?? 0) + (f?.localHits ?? 0),
    };
  }

  forget(ns: string): void {
    const p = this.pending.get(ns);
    if (p) this.trackedKeys -= p.keys.size;
    this.pending.delete(ns);
  }

  /**
   * One script per namespace with pending counts (separate calls: namespaces
   * live in different slots). Counts of a namespace that does not exist are
   * dropped: reads create no state. A flush already running is awaited and
   * then a new one starts, so what was counted before the call is written out.
   */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing.catch(() => {});
    if (this.flushing) return this.flushing;
    const batch = this.pending;
    if (batch.size === 0) return;
    this.pending = new Map();
    this.inFlight = batch;
    this.trackedKeys = 0;
    this.flushing = (async () => {
      try {
        await Promise.all([...batch].map(([ns, counts]) => this.flushNamespace(ns, counts, batch)));
      } finally {
        this.inFlight = new Map();
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async flushNamespace(ns: string, counts: Pending, batch: Map<string, Pending>): Promise<void> {
    const k = namespaceKeys(this.ctx, ns);
    const keys = [...counts.keys];
    let totalsSent = false;
    for (let start = 0; start === 0 || start < keys.length; start += FLUSH_CHUNK_KEYS) {
      const chunk = keys.slice(start, start + FLUSH_CHUNK_KEYS);
      const triples: (string | number)[] = [];
      for (const [key, reads] of chunk) triples.push(key, reads.reads, reads.lastMs);
      try {
        await this.ctx.run('flush counters', () =>
          addCounts.call(this.ctx.redis, {
            keys: { counters: k.counters, config: k.config, keysIndex: k.keysIndex, hitsIndex: k.hitsIndex },
            args: {
              hits: totalsSent ? 0 : counts.hits,
              misses: totalsSent ? 0 : counts.misses,
              localHits: totalsSent ? 0 : counts.localHits,
            },
            restArgs: triples,
          }),
        );
        totalsSent = true;
      } catch {
        // Keep what did not land for the next flush; Redis may be briefly unavailable.
        batch.delete(ns);
        const p = this.entry(ns);
        if (!totalsSent) {
          p.hits += counts.hits;
          p.misses += counts.misses;
          p.localHits += counts.localHits;
        }
        for (const [key, reads] of keys.slice(start)) this.addReads(p, key, reads.reads, reads.lastMs);
        return;
      }
    }
  }

  private addReads(p: Pending, key: string, reads: number, lastMs: number): void {
    const known = p.keys.get(key);
    if (known) {
      known.reads += reads;
      if (lastMs > known.lastMs) known.lastMs = lastMs;
    } else if (this.trackedKeys < MAX_TRACKED_KEYS) {
      p.keys.set(key, { reads, lastMs });
      this.trackedKeys += 1;
    }
  }

  private entry(ns: string): Pending {
    let p = this.pending.get(ns);
    if (!p) {
      p = { hits: 0, misses: 0, localHits: 0, keys: new Map() };
      this.pending.set(ns, p);
    }
    return p;
  }
}
