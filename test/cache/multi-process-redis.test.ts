/**
 * Cross-process single flight of getOrSet on Redis (child processes running
 * cache-child.ts). The local-cache tests (feed delay, killed feed) run on both
 * backends in multi-process.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { deleteRedisKeys } from '../support/backends.js';
import { REDIS_URL, uniqueName } from '../support/services.js';
import { startCacheChild, type CacheChild } from './support/children.js';

describe('getOrSet across processes (redis)', () => {
  const prefix = uniqueName('cpcache');
  const children: CacheChild[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await deleteRedisKeys(prefix);
  }, 60_000);

  async function spawnChildren(n: number): Promise<CacheChild[]> {
    const started = await Promise.all(Array.from({ length: n }, () => startCacheChild('redis', REDIS_URL, prefix, 'mp')));
    children.push(...started);
    return started;
  }

  it('3 processes × 50 concurrent getOrSet of one missing key run the factory once in total', async () => {
    const trio = await spawnChildren(3);
    const answers = await Promise.all(trio.map((c) => c.call({ cmd: 'getOrSet', key: 'once', callers: 50, factoryMs: 200 })));
    const values = answers.flatMap((a) => a.values as (string | null)[]);
    expect(answers.flatMap((a) => a.errors as string[])).toEqual([]);
    expect(values).toHaveLength(150);
    expect(new Set(values).size).toBe(1);
    expect(answers.reduce((sum, a) => sum + (a.factoryRuns as number), 0)).toBe(1);
  }, 240_000);

  it('when the process holding the lease dies mid-factory, another computes and every caller gets a value', async () => {
    const [holder, b, c] = await spawnChildren(3);
    const started = holder!.nextEvent('factory-started');
    void holder!.call({ cmd: 'getOrSet', key: 'takeover', callers: 5, factoryMs: 60_000 }).catch(() => {});
    await started;
    const waiting = [b!, c!].map((child) => child.call({ cmd: 'getOrSet', key: 'takeover', callers: 20, factoryMs: 200 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    holder!.kill();
    const answers = await Promise.all(waiting);
    const values = answers.flatMap((a) => a.values as (string | null)[]);
    expect(answers.flatMap((a) => a.errors as string[])).toEqual([]);
    expect(new Set(values).size).toBe(1);
    expect(values[0]).not.toContain(String(holder!.pid));
    expect(answers.reduce((sum, a) => sum + (a.factoryRuns as number), 0)).toBe(1);
  }, 240_000);
});
