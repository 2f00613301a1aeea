/**
 * The server's local caches (namespaces with `localCache`), against each backend:
 * what is served from memory, what makes a copy go (writes through this server,
 * writes through another port, a missed feed, the local ttl, the entry's own
 * expiry, a config change), and that answers are the same as without it.
 *
 * "Unannounced" changes (changeQuietly) alter the stored value without a change
 * event, the way only a bug or a lost notification could: a response that still
 * shows the old value after one proves it came from the local copy.
 */
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import type { CachePort } from '../../src/core/port.js';
import { killFeedConnections } from '../cache/support/feed-faults.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/app.js';
import { BACKENDS, type BackendName, type TestBackend } from '../support/backends.js';
import { PG_URL, REDIS_URL } from '../support/services.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { jsonInit, namespaceJson, sleep } from './helpers.js';

/** A second port on the same backend and scope: "another process". */
function otherPort(backend: BackendName, scope: string): CachePort {
  return backend === 'postgres'
    ? createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, url: PG_URL, schema: scope, poolMax: 2 })
    : createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix: scope });
}

/** Replaces the stored bytes of an existing entry without announcing it on the change feed. */
async function changeQuietly(backend: BackendName, scope: string, ns: string, key: string, value: string): Promise<void> {
  if (backend === 'postgres') {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      await sql.begin(async (tx) => {
        // Replica mode skips the triggers that announce changes.
        await tx`SET LOCAL session_replication_role = replica`;
        const rows = await tx`UPDATE ${tx(scope)}.entries SET value = ${Buffer.from(value)} WHERE ns = ${ns} AND key = ${key}`;
        expect(rows.count).toBe(1);
      });
    } finally {
      await sql.end();
    }
    return;
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    expect(await redis.hset(`${scope}:{${ns}}:${key}`, 'v', value)).toBe(0);
  } finally {
    redis.disconnect();
  }
}

/** The entry's LRU access time as the backend stores it (ms). */
async function recencyOf(backend: BackendName, scope: string, ns: string, key: string): Promise<number> {
  if (backend === 'postgres') {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ ms: number }[]>`
        SELECT extract(epoch FROM accessed_at)::float8 * 1000 AS ms FROM ${sql(scope)}.entries WHERE ns = ${ns} AND key = ${key}`;
      return rows[0]?.ms as number;
    } finally {
      await sql.end();
    }
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return Number(await redis.hget(`${scope}:{${ns}}:${key}`, 'a'));
  } finally {
    redis.disconnect();
  }
}

describe.each(BACKENDS)('HTTP local caches on $name', (factory) => {
  let s: TestServer;
  let other: CachePort;
  let n = 0;
  beforeAll(async () => {
    s = await startTestServer(factory);
    other = otherPort(factory.name, s.backend.scope);
  });
  afterAll(async () => {
    await other?.close();
    await s?.stop();
  });

  /** A fresh namespace with a local cache (ttl default 1h here, so only what the test does makes a copy go). */
  async function localNamespace(localCache: Record<string, unknown> = { maxEntries: 100, ttl: '1h' }): Promise<string> {
    const ns = `lc-${++n}`;
    expect((await s.fetch(`/v1/namespaces/${ns}`, jsonInit('PUT', { localCache }))).status).toBe(201);
    return ns;
  }
  const put = (ns: string, key: string, value: string, headers: Record<string, string> = {}) =>
    s.fetch(`/v1/cache/${ns}/${key}`, { method: 'PUT', body: value, headers });
  const text = async (ns: string, key: string): Promise<string | number> => {
    const res = await s.fetch(`/v1/cache/${ns}/${key}`);
    return res.status === 200 ? res.text() : res.status;
  };

  /** Reads until the server answers from its local copy (its feed subscription goes live on first use). */
  async function untilServedLocally(ns: string, key: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const before = (await s.server.port.stats(ns)).localHits;
      expect(await s.fetch(`/v1/cache/${ns}/${key}`).then((r) => r.status)).toBe(200);
      if ((await s.server.port.stats(ns)).localHits > before) return;
      if (Date.now() > deadline) throw new Error(`${ns}/${key} was never served locally`);
      await sleep(20);
    }
  }

  async function untilText(ns: string, key: string, expected: string | number, boundMs = 5000): Promise<void> {
    const deadline = Date.now() + boundMs;
    let last: string | number = '';
    while (Date.now() < deadline) {
      last = await text(ns, key);
      if (last === expected) return;
      await sleep(10);
    }
    throw new Error(`${ns}/${key} still answers ${JSON.stringify(last)} after ${boundMs} ms, expected ${JSON.stringify(expected)}`);
  }

  it('serves repeated reads from memory with the same answer as the backend (headers, 304, HEAD) and counts localHits', async () => {
    const ns = await localNamespace();
    await put(ns, 'k', 'v1', { 'content-type': 'text/plain', 'cache-tag': 'a, b' });
    const fromBackend = await s.fetch(`/v1/cache/${ns}/k`);
    const backendBody = await fromBackend.text();
    await untilServedLocally(ns, 'k');
    const statsBefore = await s.server.port.stats(ns);
    const fromLocal = await s.fetch(`/v1/cache/${ns}/k`);
    expect(await fromLocal.text()).toBe(backendBody);
    for (const header of ['etag', 'content-type', 'content-length', 'cache-tag', 'cache-control']) {
      expect(fromLocal.headers.get(header), header).toBe(fromBackend.headers.get(header));
    }
    const etag = fromLocal.headers.get('etag') as string;
    const notModified = await s.fetch(`/v1/cache/${ns}/k`, { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);
    expect((await s.fetch(`/v1/cache/${ns}/k`, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    const head = await s.fetch(`/v1/cache/${ns}/k`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('2');
    // Each of those four reads was a local hit; the backend counted none of them.
    const statsAfter = await s.server.port.stats(ns);
    expect(statsAfter.localHits - statsBefore.localHits).toBe(4);
    expect(statsAfter.hits).toBe(statsBefore.hits);
    // The proof that it is memory: a change the feed never announced is not seen.
    await changeQuietly(factory.name, s.backend.scope, ns, 'k', 'v-quiet');
    expect(await text(ns, 'k')).toBe('v1');
    // Across processes: flushed to the backend, visible to another port's describe.
    const seen = await pollStats(other, ns, (localHits) => localHits >= statsAfter.localHits);
    expect(seen).toBeGreaterThanOrEqual(statsAfter.localHits);
    const metrics = await (await s.fetch('/metrics')).text();
    expect(metrics).toMatch(new RegExp(`cacheport_local_cache_hits_total\\{namespace="${ns}"\\} [1-9]`));
  });

  it('a write through another port on the same backend reaches this server through the feed', async () => {
    const ns = await localNamespace();
    await put(ns, 'k', 'v0');
    await untilServedLocally(ns, 'k');
    for (let i = 1; i <= 5; i++) {
      await other.set(ns, 'k', `v${i}`);
      await untilText(ns, 'k', `v${i}`, 2000);
      await untilServedLocally(ns, 'k');
    }
    await other.delete(ns, 'k');
    await untilText(ns, 'k', 404, 2000);
  });

  it('a lost feed connection: no copy is trusted again, so changes missed meanwhile are seen', async () => {
    const ns = await localNamespace();
    await put(ns, 'k', 'v1');
    await untilServedLocally(ns, 'k');
    expect(await killFeedConnections(factory.name, s.backend.scope)).toBeGreaterThan(0);
    // Announced while the feed is dead: this server never hears of it; only bypassing its copy shows it.
    await other.set(ns, 'k', 'v2');
    await untilText(ns, 'k', 'v2', 10_000);
    // Once the feed is back the namespace is served from memory again.
    await untilServedLocally(ns, 'k');
    expect(await text(ns, 'k')).toBe('v2');
  });

  it('a copy is never served past the local ttl, nor past the entry expiry', async () => {
    const ns = await localNamespace({ maxEntries: 10, ttl: '400ms' });
    await put(ns, 'k', 'v1');
    await untilServedLocally(ns, 'k');
    await changeQuietly(factory.name, s.backend.scope, ns, 'k', 'v-quiet');
    // The copy was read at most now; after the local ttl it must come from the backend again.
    await sleep(450);
    expect(await text(ns, 'k')).toBe('v-quiet');

    const long = await localNamespace({ maxEntries: 10, ttl: '1h' });
    // The feed is live first, so the short-lived entry is served locally well before it expires.
    await put(long, 'warm', 'v');
    await untilServedLocally(long, 'warm');
    await s.fetch(`/v1/cache/${long}/short?ttl=2`, { method: 'PUT', body: 'v' });
    await untilServedLocally(long, 'short');
    await sleep(2050);
    expect(await text(long, 'short')).toBe(404);
  });

  it('a config change by another process takes effect within the config cache: off means every read goes to the backend', async () => {
    const ns = await localNamespace();
    await put(ns, 'k', 'v1');
    await untilServedLocally(ns, 'k');
    await other.configure(ns, { localCache: null });
    await changeQuietly(factory.name, s.backend.scope, ns, 'k', 'v-quiet');
    // The 1 s config cache (and its in-flight reload), with room to spare.
    await untilText(ns, 'k', 'v-quiet', 3000);
    const before = (await s.server.port.stats(ns)).localHits;
    for (let i = 0; i < 5; i++) expect(await text(ns, 'k')).toBe('v-quiet');
    expect((await s.server.port.stats(ns)).localHits).toBe(before);
  });

  it('reads served from memory count for the entry like backend reads: /top ranks by all reads', async () => {
    const ns = await localNamespace();
    await put(ns, 'hot', 'h');
    await put(ns, 'cold', 'c');
    await untilServedLocally(ns, 'hot');
    await untilServedLocally(ns, 'cold');
    const read = async (key: string, times: number) => {
      for (let i = 0; i < times; i++) expect(await text(ns, key)).toBe(key === 'hot' ? 'h' : 'c');
    };
    // hot: 30 more reads, all from memory; cold: 10 more (also from memory).
    await read('hot', 30);
    await read('cold', 10);
    const top = (await (await s.fetch(`/v1/namespaces/${ns}/top`)).json()) as { entries: { key: string; hits: number }[] };
    expect(top.entries.map((e) => e.key)).toEqual(['hot', 'cold']);
    expect(top.entries[0]?.hits).toBeGreaterThanOrEqual(31);
    expect(top.entries[1]?.hits).toBeGreaterThanOrEqual(11);
  });

  it('reads served from memory move the entry on in the backend LRU (a hot entry does not look idle to eviction)', async () => {
    const ns = `lc-lru-${++n}`;
    const config = { maxEntries: 1000, eviction: 'lru', localCache: { maxEntries: 10, ttl: '1h' } };
    expect((await s.fetch(`/v1/namespaces/${ns}`, jsonInit('PUT', config))).status).toBe(201);
    await put(ns, 'k', 'v');
    await untilServedLocally(ns, 'k');
    const before = await recencyOf(factory.name, s.backend.scope, ns, 'k');
    await sleep(20);
    const localBefore = (await s.server.port.stats(ns)).localHits;
    for (let i = 0; i < 5; i++) expect(await text(ns, 'k')).toBe('v');
    expect((await s.server.port.stats(ns)).localHits).toBe(localBefore + 5);
    // top writes this process's pending reads out.
    expect((await s.fetch(`/v1/namespaces/${ns}/top`)).status).toBe(200);
    expect(await recencyOf(factory.name, s.backend.scope, ns, 'k')).toBeGreaterThan(before);
  });

  it('evicts beyond maxEntries (least recently used first) and counts it', async () => {
    const ns = await localNamespace({ maxEntries: 2, ttl: '1h' });
    for (const key of ['a', 'b', 'c']) await put(ns, key, key);
    await untilServedLocally(ns, 'a');
    await untilServedLocally(ns, 'b');
    // Filling c evicts a (the least recently used): a quiet change of a is then seen.
    await text(ns, 'c');
    await changeQuietly(factory.name, s.backend.scope, ns, 'a', 'a2');
    expect(await text(ns, 'a')).toBe('a2');
    const metrics = await (await s.fetch('/metrics')).text();
    expect(metrics).toMatch(new RegExp(`cacheport_local_cache_evictions_total\\{namespace="${ns}"\\} [1-9]`));
    const info = await namespaceJson(s.fetch(`/v1/namespaces/${ns}`));
    expect(info.stats.localHits).toBeGreaterThan(0);
  });
});

/**
 * Writes through the server must not wait for their own announcement: with every feed event delayed
 * (the port's `changes` wrapped), each write is still seen by the very next read.
 */
describe.each(BACKENDS)('HTTP local caches with a slow feed on $name', (factory) => {
  const FEED_DELAY_MS = 400;
  const held = new Map<string, { reached: () => void; release: Promise<void> }>();
  let backend: TestBackend;
  let server: RunningServer;
  const fetchPath = (path: string, init?: RequestInit) => fetch(server.url + path, init);
  beforeAll(async () => {
    backend = await factory.create();
    const port = backend.port;
    const slow: CachePort = {
      ...port,
      changes: (ns, onEvent) => port.changes(ns, (event) => void setTimeout(() => onEvent(event), FEED_DELAY_MS)),
      // A read of a key named in `held` answers only when the test releases it (it has read the backend already).
      get: async (ns, key) => {
        const entry = await port.get(ns, key);
        const gate = held.get(key);
        if (gate !== undefined) {
          gate.reached();
          await gate.release;
        }
        return entry;
      },
    };
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', WORKER: 'off', LOG_LEVEL: 'silent' });
    server = await startServer(config, { port: slow, worker: false });
  });
  afterAll(async () => {
    await server?.close();
    await backend?.cleanup();
  });

  const text = async (key: string): Promise<string | number> => {
    const res = await fetchPath(`/v1/cache/slow/${key}`);
    return res.status === 200 ? res.text() : res.status;
  };
  async function untilServedLocally(key: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const before = (await backend.port.stats('slow')).localHits;
      await text(key);
      if ((await backend.port.stats('slow')).localHits > before) return;
      if (Date.now() > deadline) throw new Error(`${key} was never served locally`);
      await sleep(20);
    }
  }

  it('a read that overlapped a write through this server answers what it read but keeps no copy of it', async () => {
    await fetchPath('/v1/namespaces/slow-race', jsonInit('PUT', { localCache: { maxEntries: 10, ttl: '1h' } }));
    await fetchPath('/v1/cache/slow-race/warm', { method: 'PUT', body: 'v' });
    const raceText = async (key: string) => (await fetchPath(`/v1/cache/slow-race/${key}`)).text();
    // The feed is live once a read is served locally.
    const deadline = Date.now() + 10_000;
    for (let before = -1; ; ) {
      await raceText('warm');
      const now = (await backend.port.stats('slow-race')).localHits;
      if (before >= 0 && now > before) break;
      before = now;
      if (Date.now() > deadline) throw new Error('never served locally');
    }
    await fetchPath('/v1/cache/slow-race/race', { method: 'PUT', body: 'old' });
    let reached = (): void => undefined;
    let release = (): void => undefined;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    held.set('race', { reached, release: new Promise<void>((resolve) => (release = resolve)) });
    const overlapping = raceText('race');
    await atGate;
    held.delete('race');
    await fetchPath('/v1/cache/slow-race/race', { method: 'PUT', body: 'new' });
    release();
    expect(await overlapping).toBe('old');
    // The write's own announcement is still 400 ms away: only the fill guard keeps 'old' out of memory.
    expect(await raceText('race')).toBe('new');
    expect(await raceText('race')).toBe('new');
  });

  it('every write route through this server is seen by the very next read: PUT, DELETE, PATCH, counters, batch, invalidate, clear', async () => {
    await fetchPath('/v1/namespaces/slow', jsonInit('PUT', { localCache: { maxEntries: 10, ttl: '1h' } }));
    const put = (key: string, value: string, headers: Record<string, string> = {}) =>
      fetchPath(`/v1/cache/slow/${key}`, { method: 'PUT', body: value, headers });
    const batch = (ops: unknown[]) => fetchPath('/v1/batch', jsonInit('POST', { ops }));
    await put('k', 'v1');
    await untilServedLocally('k');
    for (let i = 2; i <= 4; i++) {
      await put('k', `v${i}`);
      expect(await text('k')).toBe(`v${i}`);
      await untilServedLocally('k');
    }
    expect((await fetchPath('/v1/cache/slow/k', { method: 'DELETE' })).status).toBe(204);
    expect(await text('k')).toBe(404);

    await fetchPath('/v1/counters/slow/c', jsonInit('POST', {}));
    await untilServedLocally('c');
    await fetchPath('/v1/counters/slow/c', jsonInit('POST', {}));
    expect(await text('c')).toBe('2');
    await untilServedLocally('c');
    await batch([{ op: 'incr', ns: 'slow', key: 'c', by: 3 }]);
    expect(await text('c')).toBe('5');

    await put('p', 'v1');
    await untilServedLocally('p');
    expect((await fetchPath('/v1/cache/slow/p', jsonInit('PATCH', { ttl: '10m' }))).status).toBe(204);
    expect((await fetchPath('/v1/cache/slow/p')).headers.get('cache-control')).toMatch(/^max-age=(59\d|600)$/);
    await untilServedLocally('p');
    await batch([{ op: 'set', ns: 'slow', key: 'p', value: 'from-batch' }]);
    expect(await text('p')).toBe('from-batch');
    // Batch gets go through the local cache too, and see the same.
    const got = (await (await batch([{ op: 'get', ns: 'slow', key: 'p' }])).json()) as { results: { status: number; value: string }[] };
    expect(got.results[0]).toMatchObject({ status: 200, value: 'from-batch' });
    await untilServedLocally('p');
    await batch([{ op: 'delete', ns: 'slow', key: 'p' }]);
    expect(await text('p')).toBe(404);

    for (const body of [{ keys: ['x'] }, { prefix: 'x' }, { tags: ['t'] }]) {
      await put('x', 'v', { 'cache-tag': 't' });
      await untilServedLocally('x');
      expect((await fetchPath('/v1/namespaces/slow/invalidate', jsonInit('POST', body))).status).toBe(200);
      expect(await text('x'), JSON.stringify(body)).toBe(404);
    }
    await put('y', 'v');
    await untilServedLocally('y');
    expect((await fetchPath('/v1/namespaces/slow/entries', { method: 'DELETE' })).status).toBe(200);
    expect(await text('y')).toBe(404);
    await put('z', 'v');
    await untilServedLocally('z');
    expect((await fetchPath('/v1/namespaces/slow', { method: 'DELETE' })).status).toBe(204);
    expect(await text('z')).toBe(404);
  });

  it('a bulk expire through this server is seen by the very next read (all, prefix, tags)', async () => {
    await fetchPath('/v1/namespaces/slow', jsonInit('PUT', { localCache: { maxEntries: 10, ttl: '1h' } }));
    const maxAge = async (key: string) => (await fetchPath(`/v1/cache/slow/${key}`)).headers.get('cache-control');
    await fetchPath('/v1/cache/slow/b?ttl=none', { method: 'PUT', body: 'v', headers: { 'cache-tag': 't' } });
    const bulk = [{ ttl: '10m' }, { ttl: null }, { ttl: '20m', prefix: 'b' }, { ttl: null, tags: ['t'] }, { ttl: '250ms' }];
    const expected = [/^max-age=(59\d|600)$/, null, /^max-age=(119\d|1200)$/, null];
    for (const [i, body] of bulk.entries()) {
      await untilServedLocally('b');
      const res = await fetchPath('/v1/namespaces/slow/entries', jsonInit('PATCH', body));
      expect(await res.json()).toEqual({ updated: 1 });
      if (i < expected.length) {
        const want = expected[i];
        if (want === null) expect(await maxAge('b'), JSON.stringify(body)).toBeNull();
        else expect(await maxAge('b'), JSON.stringify(body)).toMatch(want as RegExp);
      }
    }
    // Expired by the last bulk expire: the copy (no expiry) must not outlive the entry; the announcement is 400 ms away.
    await sleep(300);
    expect(await text('b')).toBe(404);
  });
});

async function pollStats(port: CachePort, ns: string, done: (localHits: number) => boolean): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { localHits } = await port.stats(ns);
    if (done(localHits) || Date.now() > deadline) return localHits;
    await sleep(100);
  }
}

describe.each(BACKENDS)('HTTP local caches under CACHE_LOCAL_CACHE_MAX_BYTES on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_LOCAL_CACHE_MAX_BYTES: String(64 * 1024) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('counts what a copy holds besides its value (tags) against the byte bound', async () => {
    const ns = 'lc-bytes';
    expect((await s.fetch(`/v1/namespaces/${ns}`, jsonInit('PUT', { localCache: { maxEntries: 1000, ttl: '1h' } }))).status).toBe(201);
    // A 1-byte value with 60 tags of 250 bytes: at least 15 KB per copy, so the 64 KiB bound holds at most four
    // (60, not more: the Cache-Tag response header must stay under the client's 16 KiB header limit).
    const tags = Array.from({ length: 60 }, (_, i) => `${String(i).padStart(2, '0')}${'t'.repeat(248)}`).join(', ');
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const key of keys) {
      expect((await s.fetch(`/v1/cache/${ns}/${key}`, { method: 'PUT', body: key, headers: { 'cache-tag': tags } })).status).toBe(201);
    }
    const localHits = async () => (await s.server.port.stats(ns)).localHits;
    // Reads until every key was served from memory once (the feed goes live on first use), in order a..f.
    for (const key of keys) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const before = await localHits();
        expect((await s.fetch(`/v1/cache/${ns}/${key}`)).status).toBe(200);
        if ((await localHits()) > before) break;
        if (Date.now() > deadline) throw new Error(`${key} was never served locally`);
        await sleep(20);
      }
    }
    // a (least recently used) cannot still be held: a quiet change of it is seen at once.
    await changeQuietly(factory.name, s.backend.scope, ns, 'a', 'a2');
    expect(await (await s.fetch(`/v1/cache/${ns}/a`)).text()).toBe('a2');
    const metrics = await (await s.fetch('/metrics')).text();
    expect(metrics).toMatch(new RegExp(`cacheport_local_cache_evictions_total\\{namespace="${ns}"\\} [1-9]`));
  });
});
