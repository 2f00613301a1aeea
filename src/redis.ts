/** `cacheport/redis`: the Redis adapter. */
export { createRedisPort, type RedisPort, type RedisPortOptions } from './adapters/redis/index.js';
