/**
 * Redis-specific index behaviour the contract suite cannot see: stale index
 * members (Redis expired or evicted the entry itself) are tolerated and
 * pruned, LRU bounds are enforced by the adapter, and nothing is left behind.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRedisPort, type RedisPort } from '../../src/adapters/redis/index.js';
import { deleteRedisKeys } from '../support/backends.js';
import { REDIS_URL, uniqueName } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function keysWithPrefix(raw: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

describe('redis indexes', () => {
  const prefix = uniqueName('cpidx');
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

  it('tolerates index members whose entry Redis expired, and prunes them', async () => {
    const ns = 'stale-expired';
    await port.set(ns, 'live', 'v', { ttl: 60_000 });
    await port.set(ns, 'gone-1', 'v', { ttl: 100 });
    await port.set(ns, 'gone-2', 'v', { ttl: 100, tags: ['t'] });
    await sleep(400);
    expect(await port.stats(ns)).toMatchObject({ entries: 1, bytes: 1, expiredPending: 2 });
    expect(await port.invalidateTags(ns, ['t'])).toBe(0);
    expect(await port.pruneIndex(ns)).toBe(1); // gone-2 was dropped from the index by invalidateTags
    expect(await raw.zcard(`${prefix}:{${ns}}#keys`)).toBe(1);
    expect(await port.stats(ns)).toMatchObject({ entries: 1, expiredPending: 0 });
    expect(await port.clear(ns)).toBe(1);
  });

  it('tolerates entries evicted behind its back (allkeys-* policies)', async () => {
    const ns = 'stale-evicted';
    await port.set(ns, 'a', 'aaa', { tags: ['t'] });
    await port.set(ns, 'b', 'bb', { tags: ['t'] });
    await raw.del(`${prefix}:{${ns}}:a`); // what maxmemory eviction would do
    expect(await port.get(ns, 'a')).toBeUndefined();
    expect(await port.stats(ns)).toMatchObject({ entries: 1, bytes: 2 });
    expect(await port.deleteMany(ns, ['a'])).toBe(0);
    expect(await port.invalidateTags(ns, ['t'])).toBe(1);
    expect(await port.has(ns, 'b')).toBe(false);
  });

  it('a stale tag membership never deletes a key re-written without the tag', async () => {
    const ns = 'stale-tag';
    await port.set(ns, 'k', 'old', { ttl: 100, tags: ['blue'] });
    await sleep(400);
    await port.set(ns, 'k', 'new', { tags: ['red'] });
    expect(await raw.sismember(`${prefix}:{${ns}}#tag:blue`, 'k')).toBe(1); // the stale member is there
    expect(await port.invalidateTags(ns, ['blue'])).toBe(0);
    expect((await port.get(ns, 'k'))?.value.toString()).toBe('new');
    expect(await port.invalidateTags(ns, ['red'])).toBe(1);
  });

  it('enforceBounds evicts the least recently used entries down to maxEntries', async () => {
    const ns = 'bounded';
    await port.configure(ns, { maxEntries: 5, eviction: 'lru' });
    for (let i = 0; i < 10; i++) await port.set(ns, `k${i}`, 'v');
    await sleep(20);
    for (const key of ['k0', 'k1', 'k2']) await port.get(ns, key);
    // The sample (16) covers all 10 keys, so this eviction is exact LRU.
    expect(await port.enforceMaxEntries(ns)).toBe(5);
    expect((await port.stats(ns)).entries).toBe(5);
    for (const key of ['k0', 'k1', 'k2']) expect(await port.has(ns, key)).toBe(true);
    expect(await port.enforceBounds(ns)).toBe(0);
  });

  it('enforceBounds honours maxBytes, and never evicts with eviction none', async () => {
    const ns = 'bytes-bounded';
    await port.configure(ns, { maxBytes: 10, eviction: 'lru' });
    for (let i = 0; i < 5; i++) await port.set(ns, `k${i}`, 'xxxx');
    expect(await port.enforceBounds(ns)).toBe(3);
    expect(await port.stats(ns)).toMatchObject({ entries: 2, bytes: 8 });

    const kept = 'unbounded';
    await port.configure(kept, { maxEntries: 1, eviction: 'none' });
    await port.set(kept, 'a', 'v');
    await port.set(kept, 'b', 'v');
    expect(await port.enforceBounds(kept)).toBe(0);
    expect((await port.stats(kept)).entries).toBe(2);
  });

  it('leaves no keys behind after drop', async () => {
    const other = uniqueName('cpidx2');
    const scoped = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix: other });
    try {
      await scoped.configure('a', { defaultTtl: 60_000 });
      await scoped.set('a', 'x', 'v', { tags: ['t1', 't2'] });
      await scoped.set('b', 'y', 'v', { tags: ['t3'], ttl: 100 });
      await scoped.increment('b', 'n', 5);
      await scoped.get('a', 'x');
      await scoped.get('b', 'missing');
      await sleep(1500); // let the hit counters flush
      expect((await scoped.list()).namespaces.map((n) => n.name)).toEqual(['a', 'b']);
      expect((await keysWithPrefix(raw, other)).length).toBeGreaterThan(0);
      await scoped.drop('a');
      await scoped.drop('b');
      expect(await scoped.list()).toEqual({ namespaces: [], cursor: null });
    } finally {
      await scoped.close();
    }
    expect(await keysWithPrefix(raw, other)).toEqual([]);
  });
});
