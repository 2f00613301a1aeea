/**
 * Entries: get/getMany/set/setMany/delete/deleteMany/has/ttl/expire, and what
 * an entry carries (value, content type, ETag, expiry, tags).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { LONG_TTL, expectSameEntry, present, text, writtenEtag, type ContractContext } from './context.js';

export function defineEntryTests(ctx: ContractContext): void {
  describe('get / set', () => {
    it('get of a missing key is undefined', async () => {
      expect(await ctx.port().get(ctx.ns(), 'missing')).toBeUndefined();
    });

    it('set then get returns the value, content type, etag, expiry and tags', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const before = Date.now();
      const result = await port.set(ns, 'k', 'hello', { ttl: LONG_TTL, tags: ['a', 'b'], contentType: 'text/plain; charset=utf-8' });
      const after = Date.now();
      const etag = writtenEtag(result);
      const entry = present(await port.get(ns, 'k'));
      expect(Buffer.isBuffer(entry.value)).toBe(true);
      expect(text(entry)).toBe('hello');
      expect(entry.contentType).toBe('text/plain; charset=utf-8');
      expect(entry.etag).toBe(etag);
      expect([...entry.tags].sort()).toEqual(['a', 'b']);
      // Server and test share one clock; 2 s of slack for a loaded machine.
      expect(entry.expiresAt).not.toBeNull();
      expect(entry.expiresAt as number).toBeGreaterThanOrEqual(before + LONG_TTL - 2000);
      expect(entry.expiresAt as number).toBeLessThanOrEqual(after + LONG_TTL + 2000);
    });

    it('content type defaults to application/octet-stream, for strings and bytes alike', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 's', 'text');
      await port.set(ns, 'b', Buffer.from([1, 2, 3]));
      expect(present(await port.get(ns, 's')).contentType).toBe('application/octet-stream');
      expect(present(await port.get(ns, 'b')).contentType).toBe('application/octet-stream');
    });

    it('content type is replaced by each write (and reset to the default when omitted)', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', '{}', { contentType: 'application/json' });
      expect(present(await port.get(ns, 'k')).contentType).toBe('application/json');
      await port.set(ns, 'k', 'x');
      expect(present(await port.get(ns, 'k')).contentType).toBe('application/octet-stream');
    });

    it('tags default to none and are replaced on every write', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v1', { tags: ['old'] });
      expect(present(await port.get(ns, 'k')).tags).toEqual(['old']);
      await port.set(ns, 'k', 'v2', { tags: ['new'] });
      expect(present(await port.get(ns, 'k')).tags).toEqual(['new']);
      expect(await port.invalidateTags(ns, ['old'])).toBe(0);
      expect(text(await port.get(ns, 'k'))).toBe('v2');
      await port.set(ns, 'k', 'v3');
      expect(present(await port.get(ns, 'k')).tags).toEqual([]);
      expect(await port.invalidateTags(ns, ['new'])).toBe(0);
      expect(text(await port.get(ns, 'k'))).toBe('v3');
    });

    it('the ETag changes on every write, even of identical bytes', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const seen = new Set<string>();
      for (let i = 0; i < 5; i += 1) {
        const etag = writtenEtag(await port.set(ns, 'k', 'same'));
        expect(seen.has(etag)).toBe(false);
        seen.add(etag);
        expect(present(await port.get(ns, 'k')).etag).toBe(etag);
      }
      // Other keys never share an etag with these writes either.
      expect(seen.has(writtenEtag(await port.set(ns, 'other', 'same')))).toBe(false);
    });

    it('SetResult.created is true for a new key and false when replacing a live one', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.set(ns, 'k', 'a')).toMatchObject({ written: true, created: true });
      expect(await port.set(ns, 'k', 'b')).toMatchObject({ written: true, created: false });
      await port.delete(ns, 'k');
      expect(await port.set(ns, 'k', 'c')).toMatchObject({ written: true, created: true });
    });

    it('without a ttl the adapter default applies; ttl null means no expiry', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'default', 'v');
      await port.set(ns, 'forever', 'v', { ttl: null });
      const remaining = await port.ttl(ns, 'default');
      expect(typeof remaining).toBe('number');
      const defaultTtl = DEFAULT_ADAPTER_OPTIONS.defaultTtl as number;
      expect(remaining as number).toBeLessThanOrEqual(defaultTtl);
      expect(remaining as number).toBeGreaterThan(defaultTtl - 60_000);
      expect(await port.ttl(ns, 'forever')).toBeNull();
      expect(present(await port.get(ns, 'forever')).expiresAt).toBeNull();
    });
  });

  describe('getMany', () => {
    it('returns results in request order, with duplicates and misses', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', 'A');
      await port.set(ns, 'b', 'B', { tags: ['t'] });
      const results = await port.getMany(ns, ['b', 'missing', 'a', 'b', 'a', 'nope']);
      expect(results).toHaveLength(6);
      expect(results.map(text)).toEqual(['B', undefined, 'A', 'B', 'A', undefined]);
      const single = present(await port.get(ns, 'b'));
      expectSameEntry(results[0], single);
      expectSameEntry(results[3], single);
    });

    it('of no keys is an empty array', async () => {
      expect(await ctx.port().getMany(ctx.ns(), [])).toEqual([]);
    });
  });

  describe('setMany', () => {
    it('writes every item with its own options and returns results in order', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'existing', 'old');
      const results = await port.setMany(ns, [
        { key: 'a', value: 'A', tags: ['x'], contentType: 'text/plain' },
        { key: 'existing', value: 'blocked', condition: 'absent' },
        { key: 'b', value: Buffer.from([0, 255]), ttl: null },
        { key: 'existing', value: 'new', condition: 'present' },
        { key: 'nothing', value: 'v', condition: 'present' },
      ]);
      expect(results).toHaveLength(5);
      expect(results[0]).toMatchObject({ written: true, created: true });
      expect(results[1]).toEqual({ written: false });
      expect(results[2]).toMatchObject({ written: true, created: true });
      expect(results[3]).toMatchObject({ written: true, created: false });
      expect(results[4]).toEqual({ written: false });
      const a = present(await port.get(ns, 'a'));
      expect(text(a)).toBe('A');
      expect(a.tags).toEqual(['x']);
      expect(a.contentType).toBe('text/plain');
      expect(a.etag).toBe(writtenEtag(results[0] as { written: boolean; etag?: string }));
      expect(present(await port.get(ns, 'b')).value.equals(Buffer.from([0, 255]))).toBe(true);
      expect(await port.ttl(ns, 'b')).toBeNull();
      expect(text(await port.get(ns, 'existing'))).toBe('new');
      expect(await port.has(ns, 'nothing')).toBe(false);
    });

    it('of no items is an empty array', async () => {
      expect(await ctx.port().setMany(ctx.ns(), [])).toEqual([]);
    });
  });

  describe('delete / deleteMany / has', () => {
    it('delete returns whether a live entry was removed', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v');
      expect(await port.has(ns, 'k')).toBe(true);
      expect(await port.delete(ns, 'k')).toBe(true);
      expect(await port.has(ns, 'k')).toBe(false);
      expect(await port.get(ns, 'k')).toBeUndefined();
      expect(await port.delete(ns, 'k')).toBe(false);
    });

    it('deleteMany returns the number of live entries removed (duplicates and misses count nothing extra)', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.setMany(ns, [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
        { key: 'c', value: '3' },
      ]);
      expect(await port.deleteMany(ns, ['a', 'missing', 'b', 'a'])).toBe(2);
      expect(await port.getMany(ns, ['a', 'b', 'c']).then((r) => r.map(text))).toEqual([undefined, undefined, '3']);
      expect(await port.deleteMany(ns, [])).toBe(0);
    });
  });

  describe('ttl / expire', () => {
    it('ttl is remaining ms, null without expiry, undefined when absent', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'timed', 'v', { ttl: 60_000 });
      await port.set(ns, 'forever', 'v', { ttl: null });
      const remaining = await port.ttl(ns, 'timed');
      expect(typeof remaining).toBe('number');
      expect(remaining as number).toBeGreaterThan(50_000);
      expect(remaining as number).toBeLessThanOrEqual(60_000);
      expect(await port.ttl(ns, 'forever')).toBeNull();
      expect(await port.ttl(ns, 'missing')).toBeUndefined();
    });

    it('expire sets a new ttl, null removes expiry, and an absent key returns false', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v', { ttl: null });
      expect(await port.expire(ns, 'k', 120_000)).toBe(true);
      const remaining = await port.ttl(ns, 'k');
      expect(remaining as number).toBeGreaterThan(110_000);
      expect(remaining as number).toBeLessThanOrEqual(120_000);
      expect(present(await port.get(ns, 'k')).expiresAt).not.toBeNull();
      expect(await port.expire(ns, 'k', null)).toBe(true);
      expect(await port.ttl(ns, 'k')).toBeNull();
      expect(present(await port.get(ns, 'k')).expiresAt).toBeNull();
      expect(text(await port.get(ns, 'k'))).toBe('v');
      expect(await port.expire(ns, 'missing', 1000)).toBe(false);
      expect(await port.expire(ns, 'missing', null)).toBe(false);
      expect(await port.has(ns, 'missing')).toBe(false);
    });

    it('expire keeps value, tags and content type', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v', { tags: ['t'], contentType: 'text/plain' });
      await port.expire(ns, 'k', LONG_TTL);
      const entry = present(await port.get(ns, 'k'));
      expect(text(entry)).toBe('v');
      expect(entry.tags).toEqual(['t']);
      expect(entry.contentType).toBe('text/plain');
      expect(await port.invalidateTags(ns, ['t'])).toBe(1);
    });
  });
}
