/**
 * Key listings (byte order, literal prefixes, paging, expired entries
 * skipped), top entries by approximate hits, and bulk expire (all, prefix,
 * tags, ttl null) with its change-feed announcement: docs/spec/cache-port.md
 * "Key listings, top entries and bulk expire".
 */
import { describe, expect, it } from 'vitest';
import type { CachePort, ChangeEvent, KeyPage } from '../../src/core/port.js';
import { EXPIRY_WAIT, expectValidationError, LONG_TTL, SHORT_TTL, sleep, type ContractContext } from './context.js';

/** Byte order of UTF-8: the order every listing must use (JS sort compares UTF-16 code units). */
function byteSorted(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function writeKeys(port: CachePort, ns: string, keys: string[], ttl: number | null = LONG_TTL): Promise<void> {
  for (let i = 0; i < keys.length; i += 500) {
    await port.setMany(
      ns,
      keys.slice(i, i + 500).map((key) => ({ key, value: `v:${key}`, ttl })),
    );
  }
}

/** Every page from the start; asserts only the last page has a null cursor. */
async function allPages(port: CachePort, ns: string, options: { prefix?: string; limit?: number } = {}): Promise<KeyPage[]> {
  const pages: KeyPage[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await port.listKeys(ns, { ...options, cursor });
    pages.push(page);
    if (page.cursor === null) return pages;
    cursor = page.cursor;
  }
  throw new Error('listing did not end');
}

function keysOfPages(pages: KeyPage[]): string[] {
  return pages.flatMap((page) => page.keys.map((k) => k.key));
}

export function defineKeyInspectorTests(ctx: ContractContext): void {
  describe('listKeys', () => {
    it('lists live keys in UTF-8 byte order, with size and expiry', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      // '\u00ff' is after 'a' in byte order (0xC3 0xBF), '\uffff' after it, an astral character last (0xF0 ...),
      // while a UTF-16 sort would put the astral one before '\uffff'.
      const keys = ['b', 'a', '\u00ff', 'A', 'ab', '\uffff', '\u{1F600}', 'Z', '~', 'é'];
      await writeKeys(port, ns, keys.slice(0, 5));
      await port.set(ns, '\uffff', 'x'.repeat(5), { ttl: null });
      await port.set(ns, '\u{1F600}', 'é', { ttl: LONG_TTL });
      await writeKeys(port, ns, ['Z', '~', 'é']);
      const before = Date.now();
      const page = await port.listKeys(ns);
      expect(page.cursor).toBeNull();
      const unique = [...new Set(keys)];
      expect(page.keys.map((k) => k.key)).toEqual(byteSorted(unique));
      expect(page.keys.map((k) => k.key).indexOf('\u00ff')).toBeGreaterThan(page.keys.map((k) => k.key).indexOf('ab'));
      const ffff = page.keys.find((k) => k.key === '\uffff');
      expect(ffff).toEqual({ key: '\uffff', size: 5, expiresAt: null });
      const emoji = page.keys.find((k) => k.key === '\u{1F600}');
      expect(emoji?.size).toBe(2); // 'é' is two bytes of UTF-8
      expect(emoji?.expiresAt).toBeGreaterThan(before + LONG_TTL - 60_000);
      expect(emoji?.expiresAt).toBeLessThanOrEqual(Date.now() + LONG_TTL + 5000);
    });

    it('pages to the end without duplicates or gaps, whatever the limit', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const keys = Array.from({ length: 57 }, (_, i) => `k:${String(i).padStart(3, '0')}:${'\u00e9'.repeat(i % 3)}`);
      await writeKeys(port, ns, keys);
      for (const limit of [1, 7, 56, 57, 58]) {
        const pages = await allPages(port, ns, { limit });
        expect(keysOfPages(pages), `limit ${limit}`).toEqual(byteSorted(keys));
        for (const page of pages) expect(page.keys.length).toBeLessThanOrEqual(limit);
      }
    });

    it('treats the prefix literally (% and _ are ordinary) and pages within it', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const keys = ['a%1', 'a%2', 'a%', 'ab', 'a_', 'a_b', 'aXb', 'a', 'b%', 'a%\u00ff', 'a&'];
      await writeKeys(port, ns, keys);
      expect(keysOfPages(await allPages(port, ns, { prefix: 'a%' }))).toEqual(byteSorted(['a%1', 'a%2', 'a%', 'a%\u00ff']));
      expect(keysOfPages(await allPages(port, ns, { prefix: 'a_' }))).toEqual(['a_', 'a_b']);
      expect(keysOfPages(await allPages(port, ns, { prefix: 'a%', limit: 1 }))).toEqual(byteSorted(['a%1', 'a%2', 'a%', 'a%\u00ff']));
      expect((await port.listKeys(ns, { prefix: 'zz' })).keys).toEqual([]);
    });

    it('skips expired entries, also when they fill whole windows, and still reaches every live key', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const expired = Array.from({ length: 120 }, (_, i) => `e:${String(i).padStart(3, '0')}`);
      const live = ['a:1', 'e:050x', 'e:119x', 'z:1'];
      await writeKeys(port, ns, expired, SHORT_TTL);
      await writeKeys(port, ns, live);
      await sleep(EXPIRY_WAIT);
      const pages = await allPages(port, ns, { limit: 2 });
      expect(keysOfPages(pages)).toEqual(byteSorted(live));
      // A page examines at most limit + min(limit, 1000) stored keys: runs of expired keys give short pages, never a wrong end.
      for (const page of pages.slice(0, -1)) expect(page.cursor).not.toBeNull();
      expect(pages.length).toBeGreaterThan(3);
      const full = await port.listKeys(ns);
      expect(full.keys.map((k) => k.key)).toEqual(byteSorted(live));
      expect(full.cursor).toBeNull();
    });

    it('lists nothing for an unknown namespace and creates nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.listKeys(ns)).toEqual({ keys: [], cursor: null });
      expect(await port.top(ns)).toEqual([]);
      const listed = await port.list({ limit: 1000 });
      expect(listed.namespaces.map((n) => n.name)).not.toContain(ns);
    });

    it('rejects limits outside 1..10000 and malformed cursors', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await expectValidationError(() => port.listKeys(ns, { limit: 0 }), /limit/);
      await expectValidationError(() => port.listKeys(ns, { limit: 10_001 }), /limit/);
      await expectValidationError(() => port.listKeys(ns, { limit: 1.5 }), /limit/);
      expect((await port.listKeys(ns, { limit: 10_000 })).keys).toEqual([]);
      for (const cursor of ['', '!!', 'a', '%%%', '_w', 'AA']) {
        await expectValidationError(() => port.listKeys(ns, { cursor }), /cursor/);
      }
      await expectValidationError(() => port.listKeys('Bad NS'), /namespace/);
      await expectValidationError(() => port.listKeys(ns, { prefix: 'a\u0000' }), /prefix/);
    });
  });

  describe('top', () => {
    it('orders live entries by reads and reports the last read time', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await writeKeys(port, ns, ['hot', 'warm', 'cold', 'unread', 'gone']);
      const before = Date.now();
      for (let i = 0; i < 5; i++) await port.get(ns, 'hot');
      for (let i = 0; i < 3; i++) await port.get(ns, 'warm');
      await port.getMany(ns, ['cold', 'gone', 'missing']);
      await port.get(ns, 'gone');
      await port.delete(ns, 'gone');
      const top = await port.top(ns);
      expect(top.map((t) => [t.key, t.hits])).toEqual([
        ['hot', 5],
        ['warm', 3],
        ['cold', 1],
      ]);
      for (const entry of top) {
        expect(entry.lastAccessAt).not.toBeNull();
        expect(entry.lastAccessAt as number).toBeGreaterThanOrEqual(before - 5000);
        expect(entry.lastAccessAt as number).toBeLessThanOrEqual(Date.now() + 5000);
      }
      expect((await port.top(ns, { limit: 2 })).map((t) => t.key)).toEqual(['hot', 'warm']);
      // Later reads add to the count; equal counts come in key byte order ('cold' before 'hot'), also at the cut.
      for (let i = 0; i < 4; i++) await port.get(ns, 'cold');
      expect((await port.top(ns, { limit: 1 }))[0]).toMatchObject({ key: 'cold', hits: 5 });
      expect((await port.top(ns)).map((t) => [t.key, t.hits])).toEqual([
        ['cold', 5],
        ['hot', 5],
        ['warm', 3],
      ]);
    });

    it('keeps the count over a rewrite of a live entry and starts over once it expired', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'kept', 'v1', { ttl: LONG_TTL });
      await port.set(ns, 'short', 'v1', { ttl: SHORT_TTL });
      await port.get(ns, 'kept');
      await port.get(ns, 'kept');
      await port.get(ns, 'short');
      await port.top(ns);
      await port.set(ns, 'kept', 'v2', { ttl: LONG_TTL });
      await sleep(EXPIRY_WAIT);
      await port.set(ns, 'short', 'v2', { ttl: LONG_TTL });
      expect((await port.top(ns)).map((t) => [t.key, t.hits])).toEqual([['kept', 2]]);
      await port.get(ns, 'short');
      expect((await port.top(ns)).map((t) => [t.key, t.hits])).toEqual([
        ['kept', 2],
        ['short', 1],
      ]);
    });

    it('rejects limits outside 1..1000', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await expectValidationError(() => port.top(ns, { limit: 0 }), /limit/);
      await expectValidationError(() => port.top(ns, { limit: 1001 }), /limit/);
      expect(await port.top(ns, { limit: 1000 })).toEqual([]);
    });
  });

  describe('expireMany', () => {
    async function remaining(port: CachePort, ns: string, keys: string[]): Promise<(number | null | undefined)[]> {
      return Promise.all(keys.map((key) => port.ttl(ns, key)));
    }

    it('sets the expiry of every live entry, in batches, and counts them', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const keys = Array.from({ length: 2345 }, (_, i) => `k${i}`);
      await writeKeys(port, ns, keys, null);
      await port.set(ns, 'dead', 'x', { ttl: SHORT_TTL });
      await sleep(EXPIRY_WAIT);
      expect(await port.expireMany(ns, 60_000)).toBe(keys.length);
      const ttls = await remaining(port, ns, ['k0', 'k1000', 'k2344']);
      for (const ttl of ttls) {
        expect(ttl).toBeGreaterThan(30_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
      expect(await port.has(ns, 'dead')).toBe(false);
      const page = await port.listKeys(ns, { limit: 10 });
      for (const k of page.keys) expect(k.expiresAt).not.toBeNull();
    });

    it('removes the expiry with ttl null, and touches only the prefix (literal) or the tags given', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.setMany(ns, [
        { key: 'a%1', value: '1', ttl: LONG_TTL },
        { key: 'a%2', value: '2', ttl: LONG_TTL, tags: ['red'] },
        { key: 'ab', value: '3', ttl: LONG_TTL, tags: ['red', 'blue'] },
        { key: 'b', value: '4', ttl: LONG_TTL, tags: ['blue'] },
        { key: 'c', value: '5', ttl: LONG_TTL, tags: ['green'] },
      ]);
      expect(await port.expireMany(ns, null, { prefix: 'a%' })).toBe(2);
      expect(await remaining(port, ns, ['a%1', 'a%2', 'ab'])).toEqual([null, null, expect.any(Number)]);
      // Any of the tags; an entry carrying two of them counts once.
      expect(await port.expireMany(ns, 5000, { tags: ['red', 'blue'] })).toBe(3);
      const [a2, ab, b, c] = await remaining(port, ns, ['a%2', 'ab', 'b', 'c']);
      for (const ttl of [a2, ab, b]) expect(ttl).toBeLessThanOrEqual(5000);
      expect(c).toBeGreaterThan(5000);
      expect(await port.expireMany(ns, 5000, { tags: ['none'] })).toBe(0);
      expect(await port.expireMany(ns, 5000, { prefix: 'zz' })).toBe(0);
      expect(await port.expireMany(ctx.ns(), 5000)).toBe(0);
    });

    it('announces expire on the change feed', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await writeKeys(port, ns, ['p:1', 'p:2', 'q:1']);
      const events: ChangeEvent[] = [];
      const sub = await port.changes(ns, (event) => events.push(event));
      try {
        expect(await port.expireMany(ns, 90_000, { prefix: 'p:' })).toBe(2);
        const deadline = Date.now() + 10_000;
        const announced = () =>
          events.filter((e) => e.type === 'change' && e.op === 'expire').flatMap((e) => (e.type === 'change' ? (e.keys ?? ['*']) : []));
        while (Date.now() < deadline && !['p:1', 'p:2'].every((k) => announced().includes(k) || announced().includes('*'))) {
          await sleep(20);
        }
        expect(['p:1', 'p:2'].every((k) => announced().includes(k) || announced().includes('*'))).toBe(true);
        expect(announced()).not.toContain('q:1');
      } finally {
        sub.unsubscribe();
      }
    });

    it('rejects bad ttls and filters without changing anything', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v', { ttl: null });
      await expectValidationError(() => port.expireMany(ns, 0), /ttl/);
      await expectValidationError(() => port.expireMany(ns, -5), /ttl/);
      await expectValidationError(() => port.expireMany(ns, undefined as unknown as number), /ttl/);
      await expectValidationError(
        () => port.expireMany(ns, 1000, { prefix: 'k', tags: ['t'] } as unknown as { prefix: string }),
        /prefix|tags/,
      );
      await expectValidationError(() => port.expireMany(ns, 1000, { tags: [] }), /tags/);
      await expectValidationError(() => port.expireMany(ns, 1000, { prefix: '' }), /prefix/);
      expect(await port.ttl(ns, 'k')).toBeNull();
    });
  });
}
