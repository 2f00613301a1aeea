/** Opens the Redis adapter for the standalone worker (CACHE_BACKEND=redis). */
import type { Config } from '../src/config.js';
import type { CachePort } from '../src/core/port.js';
import type { RedisEvictionPort } from './redis-eviction.js';

export async function openRedisEvictionPort(config: Config): Promise<RedisEvictionPort & Pick<CachePort, 'close'>> {
  // Loaded on demand, so a Postgres-only worker never loads ioredis.
  const specifier = '../src/adapters/redis/index.js';
  const mod = (await import(specifier)) as { createRedisPort(options: Record<string, unknown>): CachePort };
  const port = mod.createRedisPort({
    defaultTtl: config.defaultTtl,
    maxValueBytes: config.maxValueBytes,
    maxBatch: config.maxBatch,
    timeoutMs: config.redisCommandTimeoutMs,
    url: config.redisUrl,
    prefix: config.redisPrefix,
    clusterNodes: config.redisClusterNodes,
  });
  if (!('enforceMaxEntries' in port) || typeof port.enforceMaxEntries !== 'function') {
    await port.close();
    throw new Error('the Redis adapter has no enforceMaxEntries(ns): cannot enforce maxEntries');
  }
  return port as CachePort & RedisEvictionPort;
}
