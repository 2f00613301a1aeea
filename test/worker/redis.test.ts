import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker } from '../../jobs/worker.js';
import { createRedisPort, type RedisPort } from '../../src/adapters/redis/index.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { deleteRedisKeys } from '../support/backends.js';
import { REDIS_URL, uniqueName } from '../support/services.js';
import { waitFor } from './support.js';

let port: RedisPort;
const prefix = uniqueName('wredis');

beforeAll(() => {
  port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix });
});

afterAll(async () => {
  await port?.close();
  await deleteRedisKeys(prefix);
});

describe('worker with CACHE_BACKEND=redis', () => {
  it('says there is nothing to clean and only enforces maxEntries, through the adapter', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    await port.configure('capped', { maxEntries: 5 });
    await port.configure('unbounded', { eviction: 'none', maxEntries: 2 });
    for (let i = 0; i < 20; i++) {
      await port.set('capped', `k${i}`, 'v', { ttl: 3_600_000 });
      await port.set('unbounded', `k${i}`, 'v', { ttl: 3_600_000 });
    }
    // No DATABASE_URL: the Redis worker needs no Postgres and no pg-boss.
    const config = loadConfig({ CACHE_BACKEND: 'redis', REDIS_URL, REDIS_PREFIX: prefix, EVICTION_INTERVAL: '1s' });
    const worker = await startWorker({ config, logger, redisPort: port });
    try {
      expect(worker.bossSchema).toBeUndefined();
      expect(await waitFor(async () => (await port.stats('capped')).entries === 5, 20_000)).toBe(true);
    } finally {
      await worker.stop();
    }
    expect((await port.stats('unbounded')).entries).toBe(20);
    const notices = lines.filter((line) => line.includes('Redis expires entries natively'));
    expect(notices).toHaveLength(1);
  }, 60_000);
});
