/**
 * Redis down and back, against a throwaway redis-server this file kills
 * (SIGKILL: a crash) and stops (SIGTERM: clean shutdown): bounded 503s
 * meanwhile, then recovery of the same server process within 15 s.
 */
import { startThrowawayRedis } from '../support/fault-redis.js';
import { describeOutage } from './outage-scenario.js';

describeOutage('redis', async () => {
  const redis = await startThrowawayRedis();
  return { backend: redis, env: { CACHE_BACKEND: 'redis', REDIS_URL: redis.url, REDIS_PREFIX: 'cpfaults' } };
});
