/**
 * Namespace configuration, stats and bounds on Redis.
 *
 * - Configuration: hash `P:{ns}#config`. `durable` is stored and reported but
 *   changes nothing on Redis: persistence is the server's (RDB/AOF) setting.
 * - list(): the set `P:namespaces`, added to when a namespace is configured or
 *   gets its first key, removed from by drop(). Names whose entries all
 *   expired stay in the set (list filters them out) until dropped.
 * - stats(): entries and bytes are computed from the keys index (EXISTS +
 *   HSTRLEN per member, in chunks): O(namespace), exact, and immune to drift
 *   from Redis expiring or evicting keys behind our back (a maintained bytes
 *   counter would drift). expiredPending = index members whose entry Redis has
 *   already expired or evicted and that pruneIndex / eviction has not yet
 *   removed. hits/misses = flushed counters + this process's unflushed ones.
 */
import { completeNamespaceConfig, defaultNamespaceConfig } from '../../core/defaults.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { ConfigureResult, EvictionPolicy, NamespaceAdmin, NamespaceConfig, NamespaceInfo, NamespaceStats } from '../../core/port.js';
import { validateNamespace, validateNamespaceConfig } from '../../core/validation.js';
import { isBounded } from '../../core/write.js';
import type { RedisContext } from './context.js';
import { CHUNK, createRedisEntryStore } from './entries.js';
import { configureNamespace, evictChunk, pruneChunk, statsChunk } from './entry-scripts.js';
import type { HitCounter } from './hit-counter.js';
import { namespaceKeys, namespaceRegistryKey } from './namespace-keys.js';

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
  };
}

export function createRedisNamespaceAdmin(
  ctx: RedisContext,
  configs: NamespaceConfigCache,
  counter: HitCounter,
): NamespaceAdmin & NamespaceMaintenance {
  const { redis, options } = ctx;
  const entries = createRedisEntryStore(ctx, configs, counter);

  async function configure(ns: string, partial: Partial<NamespaceConfig>): Promise<ConfigureResult> {
    validateNamespace(ns);
    validateNamespaceConfig(partial);
    const config = completeNamespaceConfig(partial, options.defaultTtl);
    const fields = [
      'defaultTtl', config.defaultTtl ?? '', 'maxEntries', config.maxEntries ?? '', 'maxBytes', config.maxBytes ?? '',
      'eviction', config.eviction, 'durable', config.durable ? '1' : '0',
    ];
    const created = await ctx.run('configure', async () => {
      const reply = await configureNamespace.run(redis, [namespaceKeys(ctx, ns).config], fields);
      await redis.sadd(namespaceRegistryKey(ctx), ns);
      return Number(reply) === 1;
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
      const [n, bytes, stale, last] = (await ctx.run('stats', () =>
        statsChunk.run(redis, [k.keysIndex], [min, CHUNK, k.entryPrefix]))) as [number, number, number, string];
      total.entries += n;
      total.bytes += bytes;
      total.stale += stale;
      if (last === '') return total;
      min = `(${last}`;
    }
  }

  async function stats(ns: string): Promise<NamespaceStats> {
    validateNamespace(ns);
    const [counted, counters] = await Promise.all([
      countIndex(ns),
      ctx.run('stats', () => redis.hmget(namespaceKeys(ctx, ns).counters, 'hits', 'misses')),
    ]);
    const pending = counter.unflushed(ns);
    return {
      entries: counted.entries,
      bytes: counted.bytes,
      hits: Number(counters[0] ?? 0) + pending.hits,
      misses: Number(counters[1] ?? 0) + pending.misses,
      expiredPending: counted.stale,
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

  async function list(): Promise<NamespaceInfo[]> {
    const names = await ctx.run('list', () => redis.smembers(namespaceRegistryKey(ctx)));
    const infos: NamespaceInfo[] = [];
    for (const name of names.sort()) {
      const info = await describe(name);
      if (info.configured || info.stats.entries > 0) infos.push(info);
    }
    return infos;
  }

  async function drop(ns: string): Promise<void> {
    validateNamespace(ns);
    // Unregister first: a concurrent first write after this re-registers the namespace.
    await ctx.run('drop', () => redis.srem(namespaceRegistryKey(ctx), ns));
    await entries.clear(ns);
    const k = namespaceKeys(ctx, ns);
    await ctx.run('drop', () => redis.del(k.config, k.counters, k.keysIndex, k.tagNames));
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
      const [n, freed, done] = (await ctx.run('enforceBounds', () => evictChunk.run(redis, [k.keysIndex], [
        config.maxEntries ?? '', bytesToFree, EVICTIONS_PER_CALL, EVICTION_SAMPLE, k.entryPrefix, k.tagPrefix,
      ]))) as [number, number, number];
      evicted += n;
      bytesToFree = Math.max(0, bytesToFree - freed);
      if (done === 1) return evicted;
    }
  }

  async function pruneIndex(ns: string): Promise<number> {
    validateNamespace(ns);
    const k = namespaceKeys(ctx, ns);
    let removed = 0;
    let min = '-';
    for (;;) {
      const [n, last] = (await ctx.run('pruneIndex', () =>
        pruneChunk.run(redis, [k.keysIndex], [min, CHUNK, k.entryPrefix]))) as [number, string];
      removed += n;
      if (last === '') return removed;
      min = `(${last}`;
    }
  }

  return { configure, describe, list, drop, stats, enforceBounds, pruneIndex };
}
