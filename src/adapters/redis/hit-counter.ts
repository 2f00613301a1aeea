/**
 * Per-namespace hit/miss counters, batched in memory and flushed with HINCRBY
 * about once a second, so a get costs no extra round trip. Counts not yet
 * flushed are added by stats(); counts of a flush that failed are kept for
 * the next one (a crash loses at most one interval).
 */
import type { RedisContext } from './context.js';
import { namespaceKeys } from './namespace-keys.js';
import { defineScript, replyInt } from './scripts.js';

/**
 * Adds counts only to a namespace that exists (configured or holding a key),
 * so reads of made-up namespaces create nothing; atomic, so both counts land
 * or neither does. Returns 1 when counted.
 */
const addCounts = defineScript({
  name: 'cp_count_reads',
  keys: ['counters', 'config', 'keysIndex'],
  args: ['hits', 'misses', 'localHits'],
  decode: (r) => replyInt(r, 'cp_count_reads') === 1,
  source: `
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'hits', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'misses', ARGV[2])
if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'localHits', ARGV[3]) end
return 1
`,
});

interface Pending {
  hits: number;
  misses: number;
  /** Reads a server process answered from its local cache (CachePort.countLocalHits). */
  localHits: number;
}

export class HitCounter {
  private pending = new Map<string, Pending>();
  private inFlight = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly ctx: RedisContext,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => {}), intervalMs);
    this.timer.unref();
  }

  hit(ns: string, n = 1): void {
    this.entry(ns).hits += n;
  }

  miss(ns: string, n = 1): void {
    this.entry(ns).misses += n;
  }

  localHits(ns: string, n: number): void {
    if (n > 0) this.entry(ns).localHits += n;
  }

  /** Pending and in-flight counts (a flush in flight has not landed yet). */
  unflushed(ns: string): Pending {
    const p = this.pending.get(ns);
    const f = this.inFlight.get(ns);
    return {
      hits: (p?.hits ?? 0) + (f?.hits ?? 0),
      misses: (p?.misses ?? 0) + (f?.misses ?? 0),
      localHits: (p?.localHits ?? 0) + (f?.localHits ?? 0),
    };
  }

  forget(ns: string): void {
    this.pending.delete(ns);
  }

  /**
   * One script per namespace with pending counts (separate calls: namespaces
   * live in different slots). Counts of a namespace that does not exist are
   * dropped: reads create no state.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const batch = this.pending;
    if (batch.size === 0) return Promise.resolve();
    this.pending = new Map();
    this.inFlight = batch;
    this.flushing = (async () => {
      try {
        await Promise.all(
          [...batch].map(async ([ns, counts]) => {
            const k = namespaceKeys(this.ctx, ns);
            try {
              await this.ctx.run('flush counters', () =>
                addCounts.call(this.ctx.redis, {
                  keys: { counters: k.counters, config: k.config, keysIndex: k.keysIndex },
                  args: { hits: counts.hits, misses: counts.misses, localHits: counts.localHits },
                }),
              );
            } catch {
              // Keep the counts for the next flush; Redis may be briefly unavailable.
              batch.delete(ns);
              this.hit(ns, counts.hits);
              this.miss(ns, counts.misses);
              this.localHits(ns, counts.localHits);
            }
          }),
        );
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

  private entry(ns: string): Pending {
    let p = this.pending.get(ns);
    if (!p) {
      p = { hits: 0, misses: 0, localHits: 0 };
      this.pending.set(ns, p);
    }
    return p;
  }
}
