/**
 * CACHE_BACKEND=redis: Redis expires entries natively (PX) and its own
 * maxmemory policy evicts under memory pressure, so the only job left is
 * per-namespace maxEntries (and maxBytes), which the Redis adapter enforces
 * on request (approximate LRU by sampling, as Redis itself does), plus
 * pruning index members whose entry Redis already expired or evicted, so the
 * indexes of namespaces nobody writes to do not grow without bound.
 */
import type { CachePort } from '../src/core/port.js';
import { allNamespaces } from '../src/core/namespace-list.js';
import { rowsEvicted } from './metrics.js';

/** What the Redis adapter exposes beyond CachePort for this job. */
export interface MaxEntriesEnforcer {
  /** Evicts least recently used entries of `ns` down to its maxEntries (and maxBytes); returns how many. */
  enforceMaxEntries(ns: string): Promise<number>;
  /** Removes index members whose entry is gone; returns how many. */
  pruneIndex(ns: string): Promise<number>;
}

export type RedisEvictionPort = Pick<CachePort, 'list'> & MaxEntriesEnforcer;

export interface RedisEvictionResult {
  evicted: Record<string, number>;
  total: number;
  durationMs: number;
}

export async function runRedisMaxEntries(port: RedisEvictionPort, signal?: AbortSignal): Promise<RedisEvictionResult> {
  const started = Date.now();
  const evicted: Record<string, number> = {};
  for await (const info of allNamespaces(port)) {
    if (signal?.aborted === true) break;
    await port.pruneIndex(info.name);
    if (info.config.eviction !== 'lru' || (info.config.maxEntries === null && info.config.maxBytes === null)) continue;
    const count = await port.enforceMaxEntries(info.name);
    if (count > 0) {
      evicted[info.name] = count;
      rowsEvicted.inc({ namespace: info.name }, count);
    }
  }
  const total = Object.values(evicted).reduce((sum, n) => sum + n, 0);
  return { evicted, total, durationMs: Date.now() - started };
}
