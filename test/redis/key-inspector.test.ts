/**
 * Redis specifics of top(): the per-namespace #hits zset follows the entries
 * (deletes drop members, top removes members of entries Redis expired, clear
 * and drop remove it), reads of missing keys or namespaces create nothing, and
 * a key listing never writes.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRedisPort, type RedisPort } from '../../src/adapters/redis/index.js';
import { FLUSH_CHUNK_KEYS } from '../../src/adapters/redis/hit-counter.js';
import { deleteRedisKeys } from '../support/backends.js';
import { REDIS_URL, uniqueName } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('redis key inspector', () => {
  const prefix = uniqueName('cpkins');
  let port: RedisPort;
  let raw: Redis;
  const hitsKey = (ns: string) => `${prefix}:{${ns}}#hits`;

  beforeAll(() => {
    port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix });
    raw = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await port.close();
    raw.disconnect();
    await deleteRedisKeys(prefix);
  });

  it('keeps read counts in the entry hash and in #hits (score -hits), and deletes drop them', async () => {
    const ns = 'hits-follow';
    await port.setMany(ns, [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
    for (let i = 0; i < 3; i++) await port.get(ns, 'a');
    await port.get(ns, 'b');
    await port.top(ns);
    expect(await raw.zrange(hitsKey(ns), 0, -1, 'WITHSCORES')).toEqual(['a', '-3', 'b', '-1']);
    expect(await raw.hget(`${prefix}:{${ns}}:a`, 'h')).toBe('3');
    expect(Number(await raw.hget(`${prefix}:{${ns}}:a`, 'r'))).toBeGreaterThan(Date.now() - 60_000);
    await port.delete(ns, 'a');
    expect(await raw.zrange(hitsKey(ns), 0, -1)).toEqual(['b']);
    await port.clear(ns);
    expect(await raw.exists(hitsKey(ns))).toBe(0);
  });

  it('a flush of more keys than one script call takes writes every key and the totals once (chunked flush)', async () => {
    const ns = 'hits-chunked';
    const count = FLUSH_CHUNK_KEYS * 2 + 7;
    const keys = Array.from({ length: count }, (_, i) => `k${String(i).padStart(4, '0')}`);
    await port.setMany(
      ns,
      keys.map((key) => ({ key, value: 'v' })),
    );
    for (const key of keys) await port.get(ns, key);
    await port.get(ns, keys[count - 1] as string);
    await port.get(ns, 'missing');
    await port.top(ns);
    expect(await raw.zcard(hitsKey(ns))).toBe(count);
    expect(await raw.zscore(hitsKey(ns), keys[count - 1] as string)).toBe('-2');
    expect(await raw.hget(`${prefix}:{${ns}}:${keys[0]}`, 'h')).toBe('1');
    expect(await port.stats(ns)).toMatchObject({ hits: count + 1, misses: 1 });
  });

  it('top removes members of entries Redis expired on its own', async () => {
    const ns = 'hits-expired';
    await port.set(ns, 'short', 'v', { ttl: 100 });
    await port.set(ns, 'long', 'v', { ttl: 60_000 });
    await port.get(ns, 'short');
    await port.get(ns, 'long');
    await port.top(ns);
    expect(await raw.zcard(hitsKey(ns))).toBe(2);
    await sleep(400);
    expect((await port.top(ns)).map((e) => e.key)).toEqual(['long']);
    expect(await raw.zrange(hitsKey(ns), 0, -1)).toEqual(['long']);
  });

  it('reads of missing keys or namespaces, listings and top create no key', async () => {
    const ns = 'hits-none';
    expect(await port.get(ns, 'x')).toBeUndefined();
    await port.getMany(ns, ['y', 'z']);
    expect(await port.listKeys(ns)).toEqual({ keys: [], cursor: null });
    expect(await port.top(ns)).toEqual([]);
    expect(await raw.keys(`${prefix}:{${ns}}*`)).toEqual([]);
    // A namespace with entries: reads of missing keys add no #hits member.
    await port.set('hits-some', 'k', 'v');
    await port.get('hits-some', 'missing');
    await port.top('hits-some');
    expect(await raw.exists(hitsKey('hits-some'))).toBe(0);
  });
});
