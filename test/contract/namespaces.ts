/**
 * Namespace configuration and stats: configure/describe/list/drop/stats.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS, defaultNamespaceConfig } from '../../src/core/defaults.js';
import { allNamespaces } from '../../src/core/namespace-list.js';
import { ValidationError } from '../../src/core/errors.js';
import type { CachePort, NamespaceConfig, NamespaceInfo, NamespaceStats } from '../../src/core/port.js';
import { EXPIRY_WAIT, SHORT_TTL, caught, pollUntil, present, sleep, type ContractContext } from './context.js';

const DEFAULTS: NamespaceConfig = defaultNamespaceConfig(DEFAULT_ADAPTER_OPTIONS.defaultTtl);
const ZERO_STATS: NamespaceStats = { entries: 0, bytes: 0, hits: 0, misses: 0, expiredPending: 0, localHits: 0 };

export function defineNamespaceTests(ctx: ContractContext): void {
  function find(list: NamespaceInfo[], name: string): NamespaceInfo | undefined {
    return list.find((info) => info.name === name);
  }

  /** Every listed namespace, page by page. */
  async function listAll(port: CachePort): Promise<NamespaceInfo[]> {
    const all: NamespaceInfo[] = [];
    for await (const info of allNamespaces(port)) all.push(info);
    return all;
  }

  describe('configure / describe', () => {
    it('describe of an unused namespace: not configured, defaults, zero stats', async () => {
      const ns = ctx.ns();
      expect(await ctx.port().describe(ns)).toEqual({ name: ns, configured: false, config: DEFAULTS, stats: ZERO_STATS });
      expect(await ctx.port().stats(ns)).toEqual(ZERO_STATS);
    });

    it('configure fills omitted fields with defaults and reports created only the first time', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.configure(ns, { maxEntries: 100 })).toEqual({ created: true, config: { ...DEFAULTS, maxEntries: 100 } });
      const full: NamespaceConfig = {
        defaultTtl: null,
        maxEntries: 5,
        maxBytes: 1000,
        eviction: 'none',
        durable: true,
        localCache: { maxEntries: 50, ttl: 2000 },
      };
      expect(await port.configure(ns, full)).toEqual({ created: false, config: full });
      const info = await port.describe(ns);
      expect(info.name).toBe(ns);
      expect(info.configured).toBe(true);
      expect(info.config).toEqual(full);
      // A configure call states the full configuration: omitted fields go back to the defaults.
      expect(await port.configure(ns, { eviction: 'none' })).toEqual({ created: false, config: { ...DEFAULTS, eviction: 'none' } });
      expect((await port.describe(ns)).config).toEqual({ ...DEFAULTS, eviction: 'none' });
    });

    it('configure with no fields gives the defaults', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.configure(ns, {})).toEqual({ created: true, config: DEFAULTS });
      expect(await port.describe(ns)).toMatchObject({ name: ns, configured: true, config: DEFAULTS });
    });

    it('configure keeps existing entries', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v');
      await port.configure(ns, { maxEntries: 10 });
      expect(await port.has(ns, 'k')).toBe(true);
    });
  });

  describe('localCache', () => {
    it('round-trips through configure, describe, list and namespaceConfig; null turns it off', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const localCache = { maxEntries: 1_000_000, ttl: 3_600_000 };
      expect((await port.configure(ns, { localCache })).config).toEqual({ ...DEFAULTS, localCache });
      expect((await port.describe(ns)).config.localCache).toEqual(localCache);
      expect(find(await listAll(port), ns)?.config.localCache).toEqual(localCache);
      // This process's own configure is visible at once through the config cache.
      expect((await port.namespaceConfig(ns)).localCache).toEqual(localCache);
      await port.configure(ns, { localCache: { maxEntries: 1, ttl: 1 } });
      expect((await port.namespaceConfig(ns)).localCache).toEqual({ maxEntries: 1, ttl: 1 });
      await port.configure(ns, { localCache: null });
      expect((await port.describe(ns)).config.localCache).toBeNull();
      // Omitted: the default (off).
      await port.configure(ns, { localCache });
      await port.configure(ns, { eviction: 'none' });
      expect((await port.namespaceConfig(ns)).localCache).toBeNull();
    });

    it('namespaceConfig of an unused namespace is the defaults and creates nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.namespaceConfig(ns)).toEqual(DEFAULTS);
      expect(find(await listAll(port), ns)).toBeUndefined();
    });

    it('refuses a bad localCache with the precise field, and changes nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { localCache: { maxEntries: 10, ttl: 5000 } });
      const bad: [unknown, string][] = [
        [{ ttl: 5000 }, 'localCache.maxEntries'],
        [{ maxEntries: 0, ttl: 5000 }, 'localCache.maxEntries'],
        [{ maxEntries: 1_000_001, ttl: 5000 }, 'localCache.maxEntries'],
        [{ maxEntries: 1.5, ttl: 5000 }, 'localCache.maxEntries'],
        [{ maxEntries: '10', ttl: 5000 }, 'localCache.maxEntries'],
        [{ maxEntries: 10 }, 'localCache.ttl'],
        [{ maxEntries: 10, ttl: 0 }, 'localCache.ttl'],
        [{ maxEntries: 10, ttl: 3_600_001 }, 'localCache.ttl'],
        [{ maxEntries: 10, ttl: 5000, maxBytes: 1 }, 'localCache.maxBytes'],
        [[10, 5000], 'localCache'],
        ['on', 'localCache'],
      ];
      for (const [localCache, field] of bad) {
        const error = await caught(() => port.configure(ns, { localCache } as Partial<NamespaceConfig>));
        expect(error, JSON.stringify(localCache)).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).invalidParams[0]?.name, JSON.stringify(localCache)).toBe(field);
      }
      expect((await port.describe(ns)).config.localCache).toEqual({ maxEntries: 10, ttl: 5000 });
    });

    it('countLocalHits adds to stats.localHits (flushed asynchronously), not to hits', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { localCache: { maxEntries: 10, ttl: 5000 } });
      port.countLocalHits(ns, 3);
      port.countLocalHits(ns, 2);
      expect(await port.stats(ns)).toMatchObject({ localHits: 5, hits: 0 });
      // Flushed: still 5, read back from the backend.
      await sleep(1500);
      expect((await port.describe(ns)).stats).toMatchObject({ localHits: 5, hits: 0 });
      // A namespace that does not exist keeps nothing: reads create no state.
      const unused = ctx.ns();
      port.countLocalHits(unused, 4);
      await sleep(1500);
      expect(await port.stats(unused)).toEqual(ZERO_STATS);
      expect(find(await listAll(port), unused)).toBeUndefined();
    });
  });

  describe('namespace defaultTtl', () => {
    it('applies to later writes without a ttl; an explicit ttl still wins; earlier writes keep theirs', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'before', 'v');
      await port.configure(ns, { defaultTtl: 30_000 });
      await port.set(ns, 'after', 'v');
      await port.set(ns, 'explicit', 'v', { ttl: 300_000 });
      await port.set(ns, 'forever', 'v', { ttl: null });
      const after = (await port.ttl(ns, 'after')) as number;
      expect(after).toBeGreaterThan(20_000);
      expect(after).toBeLessThanOrEqual(30_000);
      expect((await port.ttl(ns, 'explicit')) as number).toBeGreaterThan(290_000);
      expect(await port.ttl(ns, 'forever')).toBeNull();
      expect((await port.ttl(ns, 'before')) as number).toBeGreaterThan(30_000);
    });

    it('applies to setMany items and counters created by increment', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { defaultTtl: 30_000 });
      await port.setMany(ns, [{ key: 'a', value: 'v' }]);
      await port.increment(ns, 'n');
      for (const key of ['a', 'n']) {
        const remaining = (await port.ttl(ns, key)) as number;
        expect(remaining, key).toBeGreaterThan(20_000);
        expect(remaining, key).toBeLessThanOrEqual(30_000);
      }
    });

    it('a short default makes entries expire', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { defaultTtl: SHORT_TTL });
      expect(await port.set(ns, 'k', 'v')).toMatchObject({ written: true });
      await sleep(EXPIRY_WAIT);
      expect(await port.get(ns, 'k')).toBeUndefined();
    });

    it('a null default means no expiry', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { defaultTtl: null });
      await port.set(ns, 'k', 'v');
      await port.increment(ns, 'n');
      expect(await port.ttl(ns, 'k')).toBeNull();
      expect(present(await port.get(ns, 'k')).expiresAt).toBeNull();
      expect(await port.ttl(ns, 'n')).toBeNull();
    });

    it('reconfiguring changes the default for later writes', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { defaultTtl: null });
      await port.set(ns, 'a', 'v');
      await port.configure(ns, { defaultTtl: 30_000 });
      await port.set(ns, 'b', 'v');
      expect(await port.ttl(ns, 'a')).toBeNull();
      expect((await port.ttl(ns, 'b')) as number).toBeLessThanOrEqual(30_000);
    });
  });

  describe('list', () => {
    it('contains configured namespaces and namespaces holding entries, not unused ones', async () => {
      const port = ctx.port();
      const configured = ctx.ns();
      const holding = ctx.ns();
      const unused = ctx.ns();
      await port.configure(configured, { maxEntries: 7 });
      await port.set(holding, 'a', 'abc');
      await port.set(holding, 'b', 'de');
      const list = await listAll(port);
      expect(find(list, configured)).toMatchObject({ configured: true, config: { ...DEFAULTS, maxEntries: 7 }, stats: { entries: 0 } });
      expect(find(list, holding)).toMatchObject({ configured: false, config: DEFAULTS, stats: { entries: 2, bytes: 5 } });
      expect(find(list, unused)).toBeUndefined();
      expect(new Set(list.map((info) => info.name)).size).toBe(list.length);
    });

    it('drops a namespace whose last entry was deleted', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v');
      expect(find(await listAll(port), ns)).toBeDefined();
      await port.delete(ns, 'k');
      expect(find(await listAll(port), ns)).toBeUndefined();
    });

    it('pages in name order after the cursor, each page at most `limit`, the last with cursor null', async () => {
      const port = ctx.port();
      const base = ctx.ns();
      const names = ['a', 'b', 'c', 'd', 'e'].map((suffix) => `${base}-${suffix}`);
      for (const name of names) await port.set(name, 'k', 'v');
      const only = { names: [], prefixes: [`${base}-`] };
      const seen: string[] = [];
      const pageSizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await port.list({ limit: 2, cursor, only });
        pageSizes.push(page.namespaces.length);
        seen.push(...page.namespaces.map((info) => info.name));
        cursor = page.cursor ?? undefined;
      } while (cursor !== undefined && pageSizes.length < 10);
      expect(seen).toEqual(names);
      expect(pageSizes.every((n) => n <= 2)).toBe(true);
      const whole = await port.list({ only });
      expect(whole).toMatchObject({ cursor: null });
      expect(whole.namespaces.map((info) => info.name)).toEqual(names);
      for (const name of names) await port.drop(name);
    });

    it('lists only what the filter allows: exact names and prefixes', async () => {
      const port = ctx.port();
      const base = ctx.ns();
      for (const suffix of ['x1', 'x2', 'y1', 'z']) await port.set(`${base}-${suffix}`, 'k', 'v');
      const page = await port.list({ only: { names: [`${base}-z`], prefixes: [`${base}-x`] } });
      expect(page.namespaces.map((info) => info.name)).toEqual([`${base}-x1`, `${base}-x2`, `${base}-z`]);
      expect((await port.list({ only: { names: [], prefixes: [] } })).namespaces).toEqual([]);
      for (const suffix of ['x1', 'x2', 'y1', 'z']) await port.drop(`${base}-${suffix}`);
    });

    it('a filter of a thousand long names lists what it allows, as a short one does', async () => {
      const port = ctx.port();
      const base = ctx.ns();
      for (const suffix of ['x1', 'y1', 'z']) await port.set(`${base}-${suffix}`, 'k', 'v');
      // About 64 KiB of names: more than an HTTP server takes in a request line.
      const names = Array.from({ length: 999 }, (_, i) => `${base}-none-${i}`.padEnd(63, 'n')).concat([`${base}-z`]);
      const only = { names, prefixes: [`${base}-x`] };
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 1000; pages++) {
        const page = await port.list({ limit: 1000, cursor, only });
        seen.push(...page.namespaces.map((info) => info.name));
        cursor = page.cursor ?? undefined;
        if (cursor === undefined) break;
      }
      expect(cursor).toBeUndefined();
      expect(seen).toEqual([`${base}-x1`, `${base}-z`]);
      for (const suffix of ['x1', 'y1', 'z']) await port.drop(`${base}-${suffix}`);
    });

    it('refuses a limit outside 1..1000 and a cursor that is not a namespace name', async () => {
      const port = ctx.port();
      for (const limit of [0, -1, 1001, 1.5]) {
        const error = await caught(() => port.list({ limit }));
        expect(error, String(limit)).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).invalidParams[0]?.name).toBe('limit');
      }
      const error = await caught(() => port.list({ cursor: 'Not A Name' }));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).invalidParams[0]?.name).toBe('cursor');
      expect((await port.list({ limit: 1000 })).namespaces.length).toBeLessThanOrEqual(1000);
    });
  });

  describe('drop', () => {
    it('removes configuration and entries', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.configure(ns, { defaultTtl: 5000, eviction: 'none' });
      await port.set(ns, 'a', 'v', { tags: ['t'] });
      await port.increment(ns, 'n');
      await port.drop(ns);
      expect(await port.getMany(ns, ['a', 'n'])).toEqual([undefined, undefined]);
      expect(await port.invalidateTags(ns, ['t'])).toBe(0);
      const info = await port.describe(ns);
      expect(info).toMatchObject({ name: ns, configured: false, config: DEFAULTS });
      expect(info.stats.entries).toBe(0);
      expect(info.stats.bytes).toBe(0);
      expect(find(await listAll(port), ns)).toBeUndefined();
      // Later writes use the adapter default again.
      await port.set(ns, 'b', 'v');
      expect((await port.ttl(ns, 'b')) as number).toBeGreaterThan(5000);
      expect(await port.configure(ns, {})).toMatchObject({ created: true });
    });

    it('of an unknown namespace succeeds', async () => {
      await expect(ctx.port().drop(ctx.ns())).resolves.toBeUndefined();
    });
  });

  describe('stats', () => {
    it('counts entries and value bytes as they change', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', 'abc');
      await port.set(ns, 'b', Buffer.alloc(1000));
      await port.set(ns, 'c', 'é'); // 2 bytes
      expect(await port.stats(ns)).toMatchObject({ entries: 3, bytes: 1005 });
      await port.set(ns, 'b', 'x');
      expect(await port.stats(ns)).toMatchObject({ entries: 3, bytes: 6 });
      await port.delete(ns, 'a');
      expect(await port.stats(ns)).toMatchObject({ entries: 2, bytes: 3 });
      await port.clear(ns);
      expect(await port.stats(ns)).toMatchObject({ entries: 0, bytes: 0 });
    });

    it('counts hits and misses of get (possibly flushed asynchronously)', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v');
      await port.get(ns, 'k');
      await port.get(ns, 'k');
      await port.get(ns, 'k');
      await port.get(ns, 'missing');
      const stats = await pollUntil(
        () => port.stats(ns),
        (s) => s.hits >= 3 && s.misses >= 1,
      );
      expect(stats.hits).toBe(3);
      expect(stats.misses).toBe(1);
      // A get of an expired entry is a miss.
      await port.set(ns, 'short', 'v', { ttl: SHORT_TTL });
      await sleep(EXPIRY_WAIT);
      await port.get(ns, 'short');
      const later = await pollUntil(
        () => port.stats(ns),
        (s) => s.misses >= 2,
      );
      expect(later).toMatchObject({ hits: 3, misses: 2 });
    });

    it('expiredPending counts entries past their expiry that cleanup has not removed', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'live', 'v', { ttl: 60_000 });
      await port.set(ns, 'a', 'v', { ttl: SHORT_TTL });
      await port.set(ns, 'b', 'v', { ttl: SHORT_TTL });
      expect((await port.stats(ns)).expiredPending).toBe(0);
      await sleep(EXPIRY_WAIT);
      const stats = await port.stats(ns);
      // No cleanup runs in these tests, so both expired entries are still pending.
      expect(stats.expiredPending).toBe(2);
      // Reads never revive them, whatever stats says.
      expect(await port.has(ns, 'a')).toBe(false);
    });
  });
}
