/**
 * Redis down and back, against a throwaway redis-server this file kills
 * (SIGKILL: a crash) and stops (SIGTERM: clean shutdown): bounded 503s
 * meanwhile, then recovery of the same server process within 15 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/fault-redis.js';
import { startChildServer, type ChildServer } from '../support/fault-server.js';
import { expectDegraded, expectRecovery, TIMEOUT_MS } from './outage-scenario.js';

describe('redis backend down and back', () => {
  let redis: ThrowawayRedis;
  let server: ChildServer;
  let failClosed: ChildServer;

  beforeAll(async () => {
    redis = await startThrowawayRedis();
    const env = { CACHE_BACKEND: 'redis', REDIS_URL: redis.url, REDIS_PREFIX: 'cpfaults', BACKEND_TIMEOUT_MS: String(TIMEOUT_MS) };
    server = await startChildServer(env);
    failClosed = await startChildServer({ ...env, RATE_LIMIT_FAIL_OPEN: 'false' });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([server?.stop(), failClosed?.stop()]);
    await redis?.destroy();
  }, 60_000);

  for (const mode of ['crash', 'clean'] as const) {
    it(`${mode} stop: 503 within the timeout while down, recovery without restart`, async () => {
      const warm = await server.fetch(`/v1/cache/faults/${mode}-warm`, { method: 'PUT', body: 'x' });
      expect(warm.status).toBe(201);
      if (mode === 'crash') await redis.crash();
      else await redis.stopClean();
      try {
        await expectDegraded(server, failClosed, mode);
      } finally {
        await redis.start();
      }
      await expectRecovery(server, mode);
      await expectRecovery(failClosed, `${mode}-fc`);
      expect(server.alive()).toBe(true);
    }, 90_000);
  }
});
