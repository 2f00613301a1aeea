/**
 * createCache in one process against the real Postgres: options, serializers,
 * getOrSet (hit, coalescing, factory errors, skip, per-result ttl), grace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { createCache } from '../../src/index.js';
import type { CacheOptions } from '../../src/cache/types.js';
import { createPgTestPort, type PgTestPort } from '../postgres/helpers.js';
import { PG_URL } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createCache (postgres)', () => {
  let pg: PgTestPort;
  beforeAll(async () => {
    pg = await createPgTestPort();
  });
  afterAll(async () => {
    await pg?.cleanup();
  });

  it('rejects every bad option at construction with a ValidationError naming it', () => {
    const bad: [Partial<CacheOptions>, string][] = [
      [{ namespace: 'Bad NS' }, 'namespace'],
      [{ namespace: 'ok', grace: '-1s' }, 'grace'],
      [{ namespace: 'ok', defaultTtl: 1.5 }, 'defaultTtl'],
      [{ namespace: 'ok', localCache: { maxEntries: 0 } }, 'localCache.maxEntries'],
      [{ namespace: 'ok', localCache: { maxEntries: 10, ttl: '2h' } }, 'localCache.ttl'],
      [{ namespace: 'ok', timeouts: { soft: '5s', hard: '1s' } }, 'timeouts.soft'],
      [{ namespace: 'ok', serializer: 'yaml' as 'json' }, 'serializer'],
      [{ namespace: 'ok', token: 'a-token' }, 'token'],
    ];
    for (const [options, field] of bad) {
      let error: unknown;
      try {
        createCache({ port: pg.port, ...options } as CacheOptions);
      } catch (caught) {
        error = caught;
      }
      expect(error, field).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).invalidParams[0]?.name).toBe(field);
    }
    expect(() => createCache({ namespace: 'ok' })).toThrow(ValidationError);
    expect(() => createCache({ namespace: 'ok', url: 'ftp://x' })).toThrow(ValidationError);
    expect(() => createCache({ namespace: 'ok', url: PG_URL, portOptions: { prefix: 'x' } })).toThrow(ValidationError);
    expect(() => createCache({ namespace: 'ok', url: PG_URL, token: 'a-token' })).toThrow('token: applies to http URLs only, not postgres');
    expect(() => createCache({ namespace: 'ok', url: 'http://127.0.0.1:1', token: 'a', portOptions: { token: 'b' } })).toThrow(
      'token: give it once',
    );
  });

  it('round-trips JSON (Date as its ISO string, bigint refused), raw bytes and a custom serializer; the content type says which', async () => {
    const json = createCache({ port: pg.port, namespace: 'ser' });
    const at = new Date('2026-01-02T03:04:05.000Z');
    await json.set('j', { a: [1, 'two', null], at });
    expect(await json.get('j')).toEqual({ a: [1, 'two', null], at: at.toISOString() });
    expect((await pg.port.get('ser', 'j'))?.contentType).toBe('application/json');
    await expect(json.set('b', { n: 1n })).rejects.toThrow(ValidationError);
    const raw = createCache({ port: pg.port, namespace: 'ser', serializer: 'raw' });
    await raw.set('r', Buffer.from([0, 1, 255]));
    expect(await raw.get('r')).toEqual(Buffer.from([0, 1, 255]));
    expect(await raw.get('j')).toEqual({ a: [1, 'two', null], at: at.toISOString() }); // decoded by its stored type
    const custom = createCache({
      port: pg.port,
      namespace: 'ser',
      serializer: {
        serialize: (v) => String(v).split('').reverse().join(''),
        deserialize: (b) => b.toString().split('').reverse().join(''),
        contentType: 'text/x-reversed',
      },
    });
    await custom.set('c', 'hello');
    expect((await pg.port.get('ser', 'c'))?.value.toString()).toBe('olleh');
    expect(await custom.get('c')).toBe('hello');
    await expect(json.get('c')).rejects.toThrow(/cannot decode/);
  });

  it('getOrSet: a hit calls no factory; concurrent misses share one call; an error reaches every caller and caches nothing', async () => {
    const cache = createCache({ port: pg.port, namespace: 'gos', localCache: { maxEntries: 100 } });
    let calls = 0;
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('k', async () => (calls++, await sleep(100), 'v'))));
    expect(calls).toBe(1);
    expect(new Set(values)).toEqual(new Set(['v']));
    expect(await cache.getOrSet('k', () => (calls++, 'other'))).toBe('v');
    expect(calls).toBe(1);
    const failing = Array.from({ length: 10 }, () =>
      cache.getOrSet('boom', async () => {
        calls++;
        await sleep(50);
        throw new Error('factory failed');
      }),
    );
    const results = await Promise.allSettled(failing);
    expect(results.every((r) => r.status === 'rejected' && String(r.reason).includes('factory failed'))).toBe(true);
    expect(calls).toBe(2);
    expect(await pg.port.get('gos', 'boom')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ factoryCalls: 2, factoryErrors: 1 });
    await cache.close();
  });

  it('getOrSet: skip() caches nothing, setTtl/setTags apply to the result, the signal aborts at timeouts.hard', async () => {
    const cache = createCache({ port: pg.port, namespace: 'gos2' });
    expect(await cache.getOrSet('s', ({ skip }) => (skip(), 1))).toBe(1);
    expect(await pg.port.has('gos2', 's')).toBe(false);
    await cache.getOrSet('t', ({ setTtl, setTags }) => (setTtl('1h'), setTags(['x']), 2));
    const entry = await pg.port.get('gos2', 't');
    expect(entry?.tags).toEqual(['x']);
    expect(entry!.expiresAt! - Date.now()).toBeGreaterThan(50 * 60_000);
    let aborted = false;
    await expect(
      cache.getOrSet(
        'slow',
        async ({ signal }) => {
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          aborted = signal.aborted;
          return 3;
        },
        { timeouts: { hard: 300 } },
      ),
    ).rejects.toThrow(/got no value within/);
    expect(aborted).toBe(true);
  });

  it('grace: a stale value is returned at once and refreshed in the background; a failing refresh keeps serving it', async () => {
    const cache = createCache({ port: pg.port, namespace: 'grace', grace: '1m' });
    await cache.getOrSet('g', () => 'first', { ttl: 200 });
    const stored = await pg.port.get('grace', 'g');
    expect(stored?.contentType).toMatch(/^application\/json; cp-fresh=\d+$/);
    expect(stored!.expiresAt! - Date.now()).toBeGreaterThan(50_000);
    await sleep(300);
    expect(await cache.get('g', { metadata: true })).toMatchObject({ value: 'first', stale: true });
    const started = Date.now();
    expect(await cache.getOrSet('g', async () => (await sleep(500), 'failing'.replace('failing', 'second')), { ttl: 60_000 })).toBe(
      'first',
    );
    expect(Date.now() - started).toBeLessThan(450);
    await expect.poll(() => cache.get('g'), { timeout: 10_000 }).toBe('second');
    await sleep(50);
    await cache.set('g', 'third', { ttl: 100 });
    await sleep(200);
    expect(await cache.getOrSet('g', () => Promise.reject(new Error('down')))).toBe('third');
    await sleep(100);
    expect(await cache.getOrSet('g', () => Promise.reject(new Error('down')))).toBe('third');
    expect(cache.stats().staleServed).toBeGreaterThan(0);
  });

  it('createCache({ url }) opens its own port on first use and closes it on close()', async () => {
    const cache = createCache({ url: PG_URL, portOptions: { schema: pg.schema, poolMax: 2 }, namespace: 'byurl' });
    await cache.set('k', 'v');
    expect(await pg.port.get('byurl', 'k')).toBeDefined();
    await cache.close();
    await expect(cache.get('k')).rejects.toThrow(/closed/);
  });
});
