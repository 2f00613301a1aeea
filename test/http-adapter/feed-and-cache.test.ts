/**
 * The HTTP adapter's change feed (SSE from GET /v1/namespaces/{ns}/changes)
 * and createCache over HTTP, on both backends: a subscriber hears changes made
 * through the server by anyone; a stopped server is `down`, the same URL
 * serving again is `up`; a local cache over HTTP stays coherent with writes
 * made directly on the backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpPort } from '../../src/adapters/http/index.js';
import { startServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createCache } from '../../src/index.js';
import type { ChangeEvent } from '../../src/core/port.js';
import { BACKENDS } from '../support/backends.js';
import { HTTP_TEST_TOKEN, startHttpBackend, type HttpTestBackend } from '../support/http-backend.js';
import { keysOf, recorder } from '../cache/support/recorder.js';
import { killFeedConnections } from '../cache/support/feed-faults.js';

const isChange = (event: ChangeEvent, op: string): boolean => event.type === 'change' && event.op === op;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(BACKENDS)('HTTP adapter change feed and createCache over $name', (factory) => {
  let backend: HttpTestBackend;
  beforeAll(async () => {
    backend = await startHttpBackend(factory);
  });
  afterAll(async () => {
    await backend?.cleanup();
  });

  it('delivers changes made through the adapter and directly on the backend, only of the subscribed namespace', async () => {
    const rec = recorder();
    const sub = await backend.port.changes('hf-a', rec.onEvent);
    await backend.port.set('hf-a', 'k1', 'v', { tags: ['t'] });
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('k1'));
    await backend.inner.port.set('hf-a', 'direct', 'v');
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('direct'));
    await backend.port.set('hf-b', 'elsewhere', 'v');
    // Each backend announces a bulk delete as it knows it: the tag / prefix, or the keys it removed.
    await backend.port.invalidateTags('hf-a', ['t']);
    await rec.waitFor((e) => e.type === 'change' && ((e.op === 'tags' && e.tags?.includes('t') === true) || keysOf(e).includes('k1')));
    await backend.port.deleteByPrefix('hf-a', 'dir');
    await rec.waitFor((e) => e.type === 'change' && (e.prefix === 'dir' || (e.op === 'delete' && keysOf(e).includes('direct'))));
    expect(rec.events.some((e) => keysOf(e).includes('elsewhere'))).toBe(false);
    expect(rec.events.every((e) => e.type !== 'change' || e.ns === 'hf-a')).toBe(true);
    sub.unsubscribe();
    await backend.port.set('hf-a', 'after', 'v');
    await sleep(200);
    expect(rec.events.some((e) => keysOf(e).includes('after'))).toBe(false);
  });

  it("the server's own feed dropping reaches the subscriber as a gap: down, then up once it is back", async () => {
    const rec = recorder();
    const sub = await backend.port.changes('hf-gap', rec.onEvent);
    await backend.port.set('hf-gap', 'before', 'v');
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('before'));
    expect(await killFeedConnections(factory.name, backend.inner.scope)).toBeGreaterThan(0);
    await rec.waitFor((e) => e.type === 'down');
    await rec.waitFor((e) => e.type === 'up');
    const downAt = rec.events.findIndex((e) => e.type === 'down');
    expect(rec.events.findIndex((e) => e.type === 'up')).toBeGreaterThan(downAt);
    // The adapter's own stream never dropped: this was the server's feed.
    expect(backend.port.feed.reconnects).toBe(0);
    await backend.port.set('hf-gap', 'after', 'v');
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('after'));
    sub.unsubscribe();
  });

  it('createCache({ url, token }): getOrSet calls the factory once, serves hits locally, and a direct backend write invalidates the local copy', async () => {
    const cache = createCache({
      url: backend.server.url,
      token: HTTP_TEST_TOKEN,
      namespace: 'hf-cache',
      localCache: { maxEntries: 100, ttl: '1m' },
    });
    try {
      let calls = 0;
      const load = async () => {
        calls++;
        await sleep(50);
        return { user: 42, name: 'first' };
      };
      const values = await Promise.all(Array.from({ length: 5 }, () => cache.getOrSet('user:42', load, { ttl: '5m' })));
      expect(values).toEqual(Array.from({ length: 5 }, () => ({ user: 42, name: 'first' })));
      expect(calls).toBe(1);
      expect(await cache.get('user:42')).toEqual({ user: 42, name: 'first' });
      const before = cache.stats().localHits;
      expect(await cache.get('user:42')).toEqual({ user: 42, name: 'first' });
      expect(cache.stats().localHits).toBeGreaterThan(before);
      // Another writer, not through this server: only the change stream can tell the cache.
      await backend.inner.port.set('hf-cache', 'user:42', JSON.stringify({ user: 42, name: 'second' }), {
        contentType: 'application/json',
      });
      const deadline = Date.now() + 10_000;
      let seen: unknown = await cache.get('user:42');
      while (JSON.stringify(seen) !== JSON.stringify({ user: 42, name: 'second' }) && Date.now() < deadline) {
        await sleep(20);
        seen = await cache.get('user:42');
      }
      expect(seen).toEqual({ user: 42, name: 'second' });
    } finally {
      await cache.close();
    }
  });
});

describe('HTTP adapter change feed: server restart', () => {
  it('a stopped server is reported down; the same URL serving again is reported up and changes flow again', async () => {
    // The last selected backend (Redis by default; the only one under TEST_BACKENDS=pgbouncer).
    const backend = await startHttpBackend(BACKENDS.at(-1) as (typeof BACKENDS)[number]);
    const url = new URL(backend.server.url);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: url.port,
      WORKER: 'off',
      LOG_LEVEL: 'silent',
      CACHE_TOKENS: JSON.stringify([{ token: HTTP_TEST_TOKEN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] }]),
    });
    // A port of its own, so stopping the shared test server does not close the one under test.
    const port = createHttpPort({ ...DEFAULT_ADAPTER_OPTIONS, url: backend.server.url, token: HTTP_TEST_TOKEN, poolMax: 2 });
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const rec = recorder();
      await port.changes('hf-restart', rec.onEvent);
      await backend.server.close();
      await rec.waitFor((e) => e.type === 'down');
      second = await startServer(config, { port: backend.inner.port, worker: false });
      await rec.waitFor((e) => e.type === 'up');
      await port.set('hf-restart', 'again', 'v');
      await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('again'));
      expect(port.feed.reconnects).toBe(1);
    } finally {
      await port.close();
      await second?.close();
      await backend.cleanup();
    }
  });
});

describe('HTTP adapter pub/sub: server restart', () => {
  it('a subscription resumes after the last delivered id: messages published while the server was down arrive once, in order', async () => {
    const backend = await startHttpBackend(BACKENDS[0] as (typeof BACKENDS)[number]);
    const url = new URL(backend.server.url);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: url.port,
      WORKER: 'off',
      LOG_LEVEL: 'silent',
      CACHE_TOKENS: JSON.stringify([{ token: HTTP_TEST_TOKEN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] }]),
    });
    const port = createHttpPort({ ...DEFAULT_ADAPTER_OPTIONS, url: backend.server.url, token: HTTP_TEST_TOKEN, poolMax: 2 });
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const events: unknown[] = [];
      await port.subscribe('app:resume', (event) => events.push(event));
      await port.publish('app:resume', 'a');
      const until = async (count: number) => {
        const deadline = Date.now() + 15_000;
        while (events.length < count && Date.now() < deadline) await sleep(10);
      };
      await until(1);
      await backend.server.close();
      // Published on the backend while this client had no server to talk to.
      await backend.inner.port.publish('app:resume', 'b');
      second = await startServer(config, { port: backend.inner.port, worker: false });
      await until(2);
      await port.publish('app:resume', 'c');
      await until(3);
      await sleep(200);
      expect(events.map((e) => (e as { type: string; data?: unknown }).data)).toEqual(['a', 'b', 'c']);
      expect(events.every((e) => (e as { type: string }).type === 'message')).toBe(true);
    } finally {
      await port.close();
      await second?.close();
      await backend.cleanup();
    }
  });
});
