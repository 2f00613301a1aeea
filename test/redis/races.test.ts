/**
 * Namespace-wide operations racing writers on Redis, and reads that must not
 * create state. The invariant: every entry key is in its namespace's keys
 * index (and in the set of each of its tags), so stats, listing, clear, drop
 * and invalidation see it; a drop or clear racing a write either removes the
 * write or leaves it indexed, never in between.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRedisPort, type RedisPort } from '../../src/adapters/redis/index.js';
import { deleteRedisKeys } from '../support/backends.js';
import { REDIS_URL, uniqueName } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const WRITERS = 12;
const RACE_MS = 2500;

async function scanKeys(raw: Redis, match: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** Runs WRITERS loops writing fresh keys (tagged `t`) until `stop()` resolves; returns how many were acknowledged. */
async function writeWhile(port: RedisPort, ns: string, stop: () => Promise<void>): Promise<number> {
  let running = true;
  let acknowledged = 0;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let n = 0; running; n++) {
      const result = await port.set(ns, `w${w}-${n}`, 'v', { ttl: null, tags: ['t'] });
      if (result.written) acknowledged++;
    }
  });
  try {
    await stop();
  } finally {
    running = false;
    await Promise.all(writers);
  }
  return acknowledged;
}

describe('redis: namespace operations racing writers', () => {
  const prefix = uniqueName('cprace');
  let port: RedisPort;
  let raw: Redis;
  const entryKeys = (ns: string) => scanKeys(raw, `${prefix}:{${ns}}:*`);

  beforeAll(() => {
    port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix });
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await port.close();
    raw.disconnect();
    await deleteRedisKeys(prefix);
  });

  it('drop racing writers leaves no entry outside the keys index, and a drop without writers removes everything', async () => {
    const ns = 'drop-race';
    let drops = 0;
    const acknowledged = await writeWhile(port, ns, async () => {
      const until = Date.now() + RACE_MS;
      while (Date.now() < until) {
        await sleep(20);
        await port.drop(ns);
        drops++;
      }
    });
    expect(acknowledged).toBeGreaterThan(0);
    expect(drops).toBeGreaterThan(3);
    const keys = await entryKeys(ns);
    expect(await raw.zcard(`${prefix}:{${ns}}#keys`)).toBe(keys.length);
    expect((await port.stats(ns)).entries).toBe(keys.length);
    await port.drop(ns);
    expect(await scanKeys(raw, `${prefix}:{${ns}}*`)).toEqual([]);
  }, 60_000);

  it('clear racing tagged writers leaves every surviving entry in its tag set', async () => {
    const ns = 'clear-race';
    let clears = 0;
    await writeWhile(port, ns, async () => {
      const until = Date.now() + RACE_MS;
      while (Date.now() < until) {
        await sleep(20);
        await port.clear(ns);
        clears++;
      }
    });
    expect(clears).toBeGreaterThan(3);
    const survivors = (await entryKeys(ns)).length;
    expect(await raw.zcard(`${prefix}:{${ns}}#keys`)).toBe(survivors);
    // Every survivor carries tag `t`: invalidating it must reach all of them.
    expect(await port.invalidateTags(ns, ['t'])).toBe(survivors);
    expect(await entryKeys(ns)).toEqual([]);
    await port.drop(ns);
  }, 60_000);
});

describe('redis: reads create nothing', () => {
  const prefix = uniqueName('cpread');
  let port: RedisPort;
  let raw: Redis;

  beforeAll(() => {
    port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix });
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await port.close();
    raw.disconnect();
    await deleteRedisKeys(prefix);
  });

  it('gets, getMany, has, ttl, stats and describe on made-up namespaces leave no key behind', async () => {
    for (let i = 0; i < 200; i++) {
      const ns = `made-up-${i}`;
      expect(await port.get(ns, 'k')).toBeUndefined();
      expect(await port.getMany(ns, ['a', 'b'])).toEqual([undefined, undefined]);
      expect(await port.has(ns, 'k')).toBe(false);
      expect(await port.ttl(ns, 'k')).toBeUndefined();
    }
    await port.describe('made-up-0');
    await port.stats('made-up-1');
    await port.list();
    await port.close(); // flushes the hit/miss counters
    expect(await scanKeys(raw, `${prefix}:*`)).toEqual([]);
  });

  it('hits and misses of a namespace that exists are still counted', async () => {
    port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix });
    await port.set('real', 'k', 'v');
    await port.get('real', 'k');
    await port.get('real', 'missing');
    await port.close();
    port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix });
    expect(await port.stats('real')).toMatchObject({ entries: 1, hits: 1, misses: 1 });
    await port.drop('real');
  });
});
