/** Opens the Redis adapter for the standalone worker (CACHE_BACKEND=redis). */
import type { Config } from '../src/config.js';
import type { RedisEvictionPort } from './redis-eviction.js';

export async function openRedisEvictionPort(config: Config): Promise<RedisEvictionPort & { close(): Promise<void> }> {
  void config;
  throw new Error('CACHE_BACKEND=redis: the Redis adapter is not available yet');
}
