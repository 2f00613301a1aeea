/**
 * Namespace configuration, stats and bounds on Redis.
 *
 * - Configuration: hash `P:{ns}#config`. `durable` is stored and reported but
 *   changes nothing on Redis: persistence is the server's (RDB/AOF) setting.
 * - list(): the sorted set `P:namespace-index` (scores 0, so ZRANGE BYLEX
 *   pages it in name order), added to when a namespace is configured or gets
 *   its first key, removed from by drop(). Names whose entries all expired
 *   stay in it (list leaves them out) until dropped. A page is one round trip
 *   for the names (one ZRANGE per allowed range, sent together), then the
 *   page's namespaces are described concurrently.
 * - stats(): entries and bytes are computed from the keys index (EXISTS +
 *   HSTRLEN per member, in chunks): O(namespace), exact, and immune to drift
 *   from Redis expiring or evicting keys behind our back (a maintained bytes
 *   counter would drift). expiredPending = index members whose entry Redis has
 *   already expired or evicted and that pruneIndex / eviction has not yet
 *   removed. hits/misses/localHits = flushed counters + this process's unflushed ones.
 * - localCache: hash fields `localCacheMaxEntries` and `localCacheTtl` (ms), both empty when off.
 */
import { completeNamespaceConfig, defaultNamespaceConfig } from '../../core/defaults.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import { prepareNamespaceList, toNamespacePage } from '../../core/namespace-list.js';
import { prefixUpperBound } from '../../core/keys.js';
import type {
  ConfigureResult,
  EvictionPolicy,
  NamespaceAdmin,
  NamespaceConfig,
  NamespaceFilter,
  NamespaceInfo,
  NamespaceListOptions,
  NamespacePage,
  NamespaceStats,
} from '../../core/port.js';
import { validateNamespace, validateNamespaceConfig } from '../../core/validation.js';
import { isBounded } from '../../core/write.js';
import type { RedisContext } from './context.js';
import { CHUNK, clearNamespace } from './bulk-delete.js';
import { announceHead } from './change-payload.js';
import { configureNamespace, evictChunk, pruneChunk, statsChunk } from './entry-scripts.js';
import type { HitCounter } from './hit-counter.js';
import { legacyNamespaceRegistryKey, namespaceKeys, namespaceRegistryKey } from './namespace-keys.js';

/** Evictions per script call, and members sampled per eviction (Redis's own default is 5). */
const EVICTIONS_PER_CALL = 100;
const EVICTION_SAMPLE = 16;

export interface NamespaceMaintenance {
  /**
   * Enforces maxEntries / maxBytes of a namespace with `eviction: 'lru'` by
   * approximate LRU (sampling, as Redis does); returns the number evicted.
   * For the worker to call every EVICTION_INTERVAL; `eviction: 'none'` never evicts.
   */
  enforceBounds(ns: string): Promise<number>;
  /** Removes index members whose entries Redis expired or evicted; returns how many. */
  pruneIndex(ns: string): Promise<number>;
}

/** The stored configuration, or undefined when the namespace was never configured. */
export async function loadStoredConfig(ctx: RedisContext, ns: string): Promise<NamespaceConfig | undefined> {
  const fields = await ctx.redis.hgetall(namespaceKeys(ctx, ns).config);
  if (fields.eviction === undefined) return undefined;
  const num = (v: string | undefined): number | null => (v === undefined || v === '' ? null : Number(v));
  return {
    defaultTtl: num(fields.defaultTtl),
    maxEntries: num(fields.maxEntries),
    maxBytes: num(fields.maxBytes),
    eviction: fields.eviction as EvictionPolicy,
    durable: fields.durable === '1',
    localCache: localCacheOf(num(fields.localCacheMaxEntries), num(fields.localCacheTtl)),
  };
}

/** Both fields set, or no local caches (a hash written before local caches existed has neither). */
function localCacheOf(maxEntries: number | null, ttl: number | null): NamespaceConfig['localCache'] {
  return maxEntries === null || ttl === null ? null : { maxEntries, ttl };
}

/**
 * ZRANGE BYLEX [min, max] pairs covering the names after `after` that `only`
 * allows: one range for all, one per exact name, one per prefix.
 */
function lexRanges(after: string | undefined, only: NamespaceFilter | undefined): [string, string][] {
  const start = (min: string): string => (after !== undefined && after >= min ? `(${after}` : `[${min}`);
  if (only === undefined || only.prefixes.includes('')) return [[after === undefined ? '-' : `(${after}`, '+']];
  const ranges: [string, string][] = [];
  for (const name of new Set(only.names)) {
    if ((after === undefined || name > after) && !only.prefixes.some((p) => name.startsWith(p))) ranges.push([`[${name}`, `[${name}`]);
  }
  for (const prefix of new Set(only.prefixes)) {
    const upper = prefixUpperBound(prefix);
    if (upper !== undefined && after !== undefined && after >= upper) continue;
    ranges.push([start(prefix), upper === undefined ? '+' : `(${upper}`]);
  }
  return ranges;
}

export function createRedisNamespaceAdmin(
  ctx: RedisContext,
  configs: NamespaceConfigCache,
  counter: HitCounter,
): NamespaceAdmin & NamespaceMaintenance {
  const { redis, options } = ctx;

  async function configure(ns: string, partial: Partial<NamespaceConfig>): Promise<ConfigureResult> {
    validateNamespace(ns);
    validateNamespaceConfig(partial);
    const config = completeNamespaceConfig(partial, options.defaultTtl);
    const fields = [
      'defaultTtl',
      config.defaultTtl ?? '',
      'maxEntries',
      config.maxEntries ?? '',
      'maxBytes',
      config.maxBytes ?? '',
      'eviction',
      config.eviction,
      'durable',
      config.durable ? '1' : '0',
      'localCacheMaxEntries',
      config.localCache?.maxEntries ?? '',
      'localCacheTtl',
      config.localCache?.ttl ?? '',
    ];
    const created = await ctx.run('configure', async (deadline) => {
      // Registered first: if the deadline passes in between, an empty unconfigured name is listed by nobody.
      await redis.zadd(namespaceRegistryKey(ctx), 0, ns);
      deadline.check();
      const configKey = namespaceKeys(ctx, ns).config;
      return configureNamespace.call(redis, { keys: { config: configKey }, args: {}, restArgs: fields });
    });
    configs.invalidate(ns);
    return { created, config };
  }

  /** Walks the keys index in chunks (read-only). */
  async function countIndex(ns: string): Promise<{ entries: number; bytes: number; stale: number }> {
    const k = namespaceKeys(ctx, ns);
    const total = { entries: 0, bytes: 0, stale: 0 };
    let min = '-';
    for (;;) {
      const chunk = await ctx.run('stats', () =>
        statsChunk.call(redis, { keys: { keysIndex: k.keysIndex }, args: { min, limit: CHUNK, entryPrefix: k.entryPrefix } }),
      );
      total.entries += chunk.entries;
      total.bytes += chunk.bytes;
      total.stale += chunk.stale;
      if (chunk.last === '') return total;
      min = `(${chunk.last}`;
    }
  }

  async function stats(ns: string): Promise<NamespaceStats> {
    validateNamespace(ns);
    const k = namespaceKeys(ctx, ns);
    const [counted, counters, configured] = await Promise.all([
      countIndex(ns),
      ctx.run('stats', () => redis.hmget(k.counters, 'hits', 'misses', 'localHits')),
      ctx.run('stats', () => redis.exists(k.config)),
    ]);
    // Counts not yet flushed, only for a namespace the flush would count into (configured or holding keys).
    const exists = configured > 0 || counted.entries > 0 || counted.stale > 0;
    const pending = exists ? counter.unflushed(ns) : { hits: 0, misses: 0, localHits: 0 };
    return {
      entries: counted.entries,
      bytes: counted.bytes,
      hits: Number(counters[0] ?? 0) + pending.hits,
      misses: Number(counters[1] ?? 0) + pending.misses,
      expiredPending: counted.stale,
      localHits: Number(counters[2] ?? 0) + pending.localHits,
    };
  }

  async function describe(ns: string): Promise<NamespaceInfo> {
    validateNamespace(ns);
    const [stored, nsStats] = await Promise.all([ctx.run('describe', () => loadStoredConfig(ctx, ns)), stats(ns)]);
    return {
      name: ns,
      configured: stored !== undefined,
      config: stored ?? defaultNamespaceConfig(options.defaultTtl),
      stats: nsStats,
    };
  }

  let legacyMoved = false;
  /** Moves names from the registry set of earlier versions into the sorted set, once per process. */
  async function moveLegacyRegistry(): Promise<void> {
    if (legacyMoved) return;
    const legacy = legacyNamespaceRegistryKey(ctx);
    const names = await ctx.run('list', async () => ((await redis.type(legacy)) === 'set' ? redis.smembers(legacy) : []));
    if (names.length > 0) await ctx.run('list', () => redis.zadd(namespaceRegistryKey(ctx), ...names.flatMap((name) => [0, name])));
    await ctx.run('list', () => redis.del(legacy));
    legacyMoved = true;
  }

  async function list(listOptions?: NamespaceListOptions): Promise<NamespacePage> {
    const { limit, after, only } = prepareNamespaceList(listOptions);
    await moveLegacyRegistry();
    const ranges = lexRanges(after, only);
    const key = namespaceRegistryKey(ctx);
    const found = await ctx.run('list', () =>
      Promise.all(ranges.map(([min, max]) => redis.zrange(key, min, max, 'BYLEX', 'LIMIT', 0, limit + 1))),
    );
    const names = [...new Set(found.flat())].sort().slice(0, limit + 1);
    return toNamespacePage(await Promise.all(names.map((name) => describe(name))), limit);
  }

  async function drop(ns: string): Promise<void> {
    validateNamespace(ns);
    // Unregister first: a concurrent first write after this re-registers the namespace.
    await ctx.run('drop', () => redis.zrem(namespaceRegistryKey(ctx), ns));
    await clearNamespace(ctx, ns, true);
    counter.forget(ns);
    configs.invalidate(ns);
  }

  async function enforceBounds(ns: string): Promise<number> {
    validateNamespace(ns);
    const config = await ctx.run('enforceBounds', () => loadStoredConfig(ctx, ns));
    if (!config || !isBounded(config)) return 0;
    let bytesToFree = 0;
    if (config.maxBytes !== null) bytesToFree = Math.max(0, (await countIndex(ns)).bytes - config.maxBytes);
    const k = namespaceKeys(ctx, ns);
    let evicted = 0;
    for (;;) {
      const chunk = await ctx.run('enforceBounds', () =>
        evictChunk.call(redis, {
          keys: { keysIndex: k.keysIndex },
          args: {
            maxEntries: config.maxEntries ?? '',
            bytesToFree,
            budget: EVICTIONS_PER_CALL,
            sample: EVICTION_SAMPLE,
            entryPrefix: k.entryPrefix,
            tagPrefix: k.tagPrefix,
            channel: k.changes,
            announceHead: announceHead(ns, 'evict'),
          },
        }),
      );
      evicted += chunk.evicted;
      bytesToFree = Math.max(0, bytesToFree - chunk.freed);
      if (chunk.done) return evicted;
    }
  }

  async function pruneIndex(ns: string): Promise<number> {
    validateNamespace(ns);
    const k = namespaceKeys(ctx, ns);
    let removed = 0;
    let min = '-';
    for (;;) {
      const chunk = await ctx.run('pruneIndex', () =>
        pruneChunk.call(redis, { keys: { keysIndex: k.keysIndex }, args: { min, limit: CHUNK, entryPrefix: k.entryPrefix } }),
      );
      removed += chunk.removed;
      if (chunk.last === '') return removed;
      min = `(${chunk.last}`;
    }
  }

  async function namespaceConfig(ns: string): Promise<NamespaceConfig> {
    validateNamespace(ns);
    return configs.get(ns);
  }

  function countLocalHits(ns: string, count: number, key?: string): void {
    counter.localHits(ns, count, key);
  }

  return { configure, describe, list, drop, stats, namespaceConfig, countLocalHits, enforceBounds, pruneIndex };
}
