/** Namespace configuration, stats, invalidation and clearing over HTTP, against each backend. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit, namespaceJson } from './helpers.js';

describe.each(BACKENDS)('HTTP namespaces on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const put = (ns: string, key: string, value = 'v', headers: Record<string, string> = {}) =>
    s.fetch(`/v1/cache/${ns}/${key}`, { method: 'PUT', body: value, headers });
  const describeNs = (ns: string) => namespaceJson(s.fetch(`/v1/namespaces/${ns}`));

  it('an unused namespace answers 200 with defaults and zero stats', async () => {
    expect(await describeNs('n-unused')).toMatchObject({
      name: 'n-unused',
      config: { defaultTtl: '1h', maxEntries: null, maxBytes: null, eviction: 'lru', durable: false },
      stats: { entries: 0, bytes: 0 },
    });
  });

  it('PUT configures (201, then 200), reads durations back as strings, and the default ttl applies', async () => {
    const first = await s.fetch('/v1/namespaces/n1', jsonInit('PUT', { defaultTtl: 90, maxEntries: 100 }));
    expect(first.status).toBe(201);
    expect((await namespaceJson(first)).config).toEqual({
      defaultTtl: '90s',
      maxEntries: 100,
      maxBytes: null,
      eviction: 'lru',
      durable: false,
      localCache: null,
    });
    const second = await s.fetch('/v1/namespaces/n1', jsonInit('PUT', { defaultTtl: '2h', eviction: 'none' }));
    expect(second.status).toBe(200);
    expect((await describeNs('n1')).config).toEqual({
      defaultTtl: '2h',
      maxEntries: null,
      maxBytes: null,
      eviction: 'none',
      durable: false,
      localCache: null,
    });
    await s.fetch('/v1/namespaces/n1', jsonInit('PUT', { defaultTtl: '90s' }));
    await put('n1', 'k');
    const maxAge = Number(/max-age=(\d+)/.exec((await s.fetch('/v1/cache/n1/k')).headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(60);
    expect(maxAge).toBeLessThanOrEqual(89);
    await s.fetch('/v1/namespaces/n1', jsonInit('PUT', { defaultTtl: null }));
    expect((await describeNs('n1')).config.defaultTtl).toBeNull();
  });

  it('localCache: PUT {maxEntries, ttl} reads back normalised, ttl defaults to 5s, null turns it off; stats has localHits', async () => {
    const first = await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { localCache: { maxEntries: 500, ttl: '60m' } }));
    expect(first.status).toBe(201);
    expect((await namespaceJson(first)).config.localCache).toEqual({ maxEntries: 500, ttl: '1h' });
    expect((await describeNs('nl1')).config.localCache).toEqual({ maxEntries: 500, ttl: '1h' });
    await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { localCache: { maxEntries: 1_000_000, ttl: 300 } }));
    expect((await describeNs('nl1')).config.localCache).toEqual({ maxEntries: 1_000_000, ttl: '5m' });
    await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { localCache: { maxEntries: 1 } }));
    expect((await describeNs('nl1')).config.localCache).toEqual({ maxEntries: 1, ttl: '5s' });
    await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { localCache: { maxEntries: 1, ttl: '1500ms' } }));
    expect((await describeNs('nl1')).config.localCache).toEqual({ maxEntries: 1, ttl: '1500ms' });
    // PUT is the full config: omitted means off.
    await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { defaultTtl: '1m' }));
    expect((await describeNs('nl1')).config.localCache).toBeNull();
    await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { localCache: { maxEntries: 3 } }));
    await s.fetch('/v1/namespaces/nl1', jsonInit('PUT', { localCache: null }));
    const info = await describeNs('nl1');
    expect(info.config.localCache).toBeNull();
    expect(info.stats.localHits).toBe(0);
  });

  it('invalid localCache is 400 naming the field and changes nothing', async () => {
    await s.fetch('/v1/namespaces/nl2', jsonInit('PUT', { localCache: { maxEntries: 10, ttl: '2s' } }));
    const bad: [unknown, string][] = [
      [{}, 'localCache.maxEntries'],
      [{ ttl: '5s' }, 'localCache.maxEntries'],
      [{ maxEntries: 0 }, 'localCache.maxEntries'],
      [{ maxEntries: 1_000_001 }, 'localCache.maxEntries'],
      [{ maxEntries: 2.5 }, 'localCache.maxEntries'],
      [{ maxEntries: '10' }, 'localCache.maxEntries'],
      [{ maxEntries: 10, ttl: '61m' }, 'localCache.ttl'],
      [{ maxEntries: 10, ttl: '2h' }, 'localCache.ttl'],
      [{ maxEntries: 10, ttl: '1.5s' }, 'localCache.ttl'],
      [{ maxEntries: 10, ttl: 0 }, 'localCache.ttl'],
      [{ maxEntries: 10, ttl: null }, 'localCache.ttl'],
      [{ maxEntries: 10, maxBytes: 5 }, 'localCache.maxBytes'],
      [true, 'localCache'],
      [[10], 'localCache'],
    ];
    for (const [localCache, field] of bad) {
      const problem = await expectProblem(await s.fetch('/v1/namespaces/nl2', jsonInit('PUT', { localCache })), 400);
      expect(problem['invalid-params']?.[0]?.name, JSON.stringify(localCache)).toBe(field);
    }
    expect((await describeNs('nl2')).config.localCache).toEqual({ maxEntries: 10, ttl: '2s' });
  });

  it('invalid configuration is 400 naming the field and changes nothing', async () => {
    await s.fetch('/v1/namespaces/n2', jsonInit('PUT', { defaultTtl: '5m' }));
    const bad: [unknown, string][] = [
      [{ defaultTtl: '1.5s' }, 'defaultTtl'],
      [{ defaultTtl: 0 }, 'defaultTtl'],
      [{ defaultTtl: '400d' }, 'defaultTtl'],
      [{ maxEntries: -1 }, 'maxEntries'],
      [{ maxBytes: 1.5 }, 'maxBytes'],
      [{ eviction: 'fifo' }, 'eviction'],
      [{ durable: 'yes' }, 'durable'],
      [{ bogus: 1 }, 'bogus'],
    ];
    for (const [body, field] of bad) {
      const problem = await expectProblem(await s.fetch('/v1/namespaces/n2', jsonInit('PUT', body)), 400);
      expect(problem['invalid-params']?.[0]?.name, JSON.stringify(body)).toBe(field);
    }
    await expectProblem(
      await s.fetch('/v1/namespaces/n2', { method: 'PUT', body: '{', headers: { 'content-type': 'application/json' } }),
      400,
    );
    await expectProblem(await s.fetch('/v1/namespaces/n2', { method: 'PUT', body: '{}', headers: { 'content-type': 'text/plain' } }), 415);
    await expectProblem(await s.fetch('/v1/namespaces/Bad_NS', jsonInit('PUT', {})), 400);
    expect((await describeNs('n2')).config.defaultTtl).toBe('5m');
  });

  it('lists namespaces that are configured or hold entries', async () => {
    await put('n3-entries', 'k');
    await s.fetch('/v1/namespaces/n3-config', jsonInit('PUT', {}));
    const { namespaces } = (await (await s.fetch('/v1/namespaces')).json()) as {
      namespaces: { name: string; stats: { entries: number } }[];
    };
    const names = namespaces.map((n) => n.name);
    expect(names).toContain('n3-entries');
    expect(names).toContain('n3-config');
    expect(names).not.toContain('n-unused');
  });

  it('pages the list with ?limit= and ?cursor=; a limit outside 1..1000 or a bad cursor is 400', async () => {
    for (const ns of ['pg-a', 'pg-b', 'pg-c']) await put(ns, 'k');
    type Page = { namespaces: { name: string }[]; cursor: string | null };
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=1' : `?limit=1&cursor=${encodeURIComponent(cursor)}`;
      const res = await s.fetch(`/v1/namespaces${query}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as Page;
      expect(page.namespaces.length).toBeLessThanOrEqual(1);
      seen.push(...page.namespaces.map((n) => n.name));
      cursor = page.cursor;
      pages++;
    } while (cursor !== null && pages < 1000);
    expect(cursor).toBeNull();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort());
    expect(seen.filter((n) => n.startsWith('pg-'))).toEqual(['pg-a', 'pg-b', 'pg-c']);
    const whole = (await (await s.fetch('/v1/namespaces?limit=1000')).json()) as Page;
    expect(whole.namespaces.map((n) => n.name)).toEqual(expect.arrayContaining(['pg-a', 'pg-b', 'pg-c']));
    for (const query of ['limit=0', 'limit=1001', 'limit=-1', 'limit=abc', 'limit=1.5', 'cursor=Not%20A%20Name']) {
      await expectProblem(await s.fetch(`/v1/namespaces?${query}`), 400);
    }
  });

  it('invalidate by literal prefix, tags or keys; exactly one is required', async () => {
    await put('n4', 'user:42:a');
    await put('n4', 'user:42:b', 'v', { 'cache-tag': 't1' });
    await put('n4', 'user:4%25', 'v');
    await put('n4', 'user:4_x', 'v');
    await put('n4', 'other', 'v', { 'cache-tag': 't1' });
    await put('n4', 'k1');
    const inv = (body: unknown) => s.fetch('/v1/namespaces/n4/invalidate', jsonInit('POST', body));
    await expectProblem(await inv({}), 400);
    await expectProblem(await inv({ prefix: 'user:', tags: ['t1'] }), 400);
    await expectProblem(await inv({ prefix: '' }), 400);
    await expectProblem(await inv({ tags: [] }), 400);
    await expectProblem(await inv({ keys: ['a//b'] }), 400);
    expect((await describeNs('n4')).stats.entries).toBe(6);
    expect(await (await inv({ prefix: 'user:4%' })).json()).toEqual({ deleted: 1 });
    expect(await (await inv({ prefix: 'user:42:' })).json()).toEqual({ deleted: 2 });
    expect(await (await inv({ tags: ['t1'] })).json()).toEqual({ deleted: 1 });
    expect(await (await inv({ keys: ['k1', 'nope'] })).json()).toEqual({ deleted: 1 });
    expect((await s.fetch('/v1/cache/n4/user:4_x')).status).toBe(200);
  });

  it('DELETE entries clears (200 {deleted}); DELETE namespace removes config and entries (204, also when empty)', async () => {
    await s.fetch('/v1/namespaces/n5', jsonInit('PUT', { defaultTtl: '10m' }));
    await put('n5', 'a');
    await put('n5', 'b');
    expect(await (await s.fetch('/v1/namespaces/n5/entries', { method: 'DELETE' })).json()).toEqual({ deleted: 2 });
    expect((await describeNs('n5')).config.defaultTtl).toBe('10m');
    await put('n5', 'c');
    expect((await s.fetch('/v1/namespaces/n5', { method: 'DELETE' })).status).toBe(204);
    expect((await s.fetch('/v1/cache/n5/c')).status).toBe(404);
    expect((await describeNs('n5')).config.defaultTtl).toBe('1h');
    expect((await s.fetch('/v1/namespaces/n5-never', { method: 'DELETE' })).status).toBe(204);
  });
});
