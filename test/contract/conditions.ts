/**
 * Conditional writes: always, absent (NX), present (XX), ETag compare-and-set.
 * A condition that fails writes nothing: value, etag, ttl and tags stay.
 */
import { describe, expect, it } from 'vitest';
import { LONG_TTL, expectSameEntry, present, text, writtenEtag, type ContractContext } from './context.js';

export function defineConditionTests(ctx: ContractContext): void {
  describe('conditional set', () => {
    it("'always' writes whether or not the key exists", async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.set(ns, 'k', '1', { condition: 'always' })).toMatchObject({ written: true, created: true });
      expect(await port.set(ns, 'k', '2', { condition: 'always' })).toMatchObject({ written: true, created: false });
      expect(text(await port.get(ns, 'k'))).toBe('2');
    });

    it("'absent' writes only when no live entry exists", async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.set(ns, 'k', 'first', { condition: 'absent' })).toMatchObject({ written: true, created: true });
      const before = present(await port.get(ns, 'k'));
      expect(await port.set(ns, 'k', 'second', { condition: 'absent', ttl: null, tags: ['x'] })).toEqual({ written: false });
      expectSameEntry(await port.get(ns, 'k'), before);
      expect(text(before)).toBe('first');
    });

    it("'present' writes only when a live entry exists", async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.set(ns, 'k', 'v', { condition: 'present' })).toEqual({ written: false });
      expect(await port.has(ns, 'k')).toBe(false);
      await port.set(ns, 'k', 'old', { tags: ['a'] });
      expect(await port.set(ns, 'k', 'new', { condition: 'present', tags: ['b'] })).toMatchObject({ written: true, created: false });
      const entry = present(await port.get(ns, 'k'));
      expect(text(entry)).toBe('new');
      expect(entry.tags).toEqual(['b']);
    });

    it('{ etag } writes only when the live entry has that ETag (compare-and-set)', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const first = writtenEtag(await port.set(ns, 'k', 'v1', { ttl: LONG_TTL }));
      const second = writtenEtag(await port.set(ns, 'k', 'v2', { condition: { etag: first } }));
      expect(second).not.toBe(first);
      const before = present(await port.get(ns, 'k'));
      // The old ETag no longer matches.
      expect(await port.set(ns, 'k', 'v3', { condition: { etag: first }, ttl: null })).toEqual({ written: false });
      expect(await port.set(ns, 'k', 'v3', { condition: { etag: 'no-such-etag' } })).toEqual({ written: false });
      expectSameEntry(await port.get(ns, 'k'), before);
      expect(text(before)).toBe('v2');
      const third = await port.set(ns, 'k', 'v3', { condition: { etag: second } });
      expect(third).toMatchObject({ written: true, created: false });
      expect(text(await port.get(ns, 'k'))).toBe('v3');
    });

    it('{ etag } never creates a missing key, even with an ETag it once had', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const etag = writtenEtag(await port.set(ns, 'k', 'v'));
      await port.delete(ns, 'k');
      expect(await port.set(ns, 'k', 'again', { condition: { etag } })).toEqual({ written: false });
      expect(await port.set(ns, 'never', 'v', { condition: { etag } })).toEqual({ written: false });
      expect(await port.has(ns, 'k')).toBe(false);
      expect(await port.has(ns, 'never')).toBe(false);
    });

    it('a quoted "*" is an ETag like any other, not "any entry", also in setMany', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v');
      expect(await port.set(ns, 'k', 'x', { condition: { etag: '*' } })).toEqual({ written: false });
      expect(await port.setMany(ns, [{ key: 'k', value: 'x', condition: { etag: '*' } }])).toEqual([{ written: false }]);
      expect(text(await port.get(ns, 'k'))).toBe('v');
    });

    it('an ETag no entry can have (quotes, spaces, W/, a list, non-ASCII) is a mismatch like any other, also in setMany', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v');
      for (const etag of ['a"b', 'W/"x"', 'a b', '"x", "y"', 'ü'])
        expect(await port.set(ns, 'k', 'x', { condition: { etag } }), etag).toEqual({ written: false });
      expect(await port.set(ns, 'a//k', 'x', { condition: { etag: 'a"b' } })).toEqual({ written: false });
      expect(await port.setMany(ns, [{ key: 'k', value: 'x', condition: { etag: 'a"b' } }])).toEqual([{ written: false }]);
      expect(text(await port.get(ns, 'k'))).toBe('v');
    });

    it('an ETag from another key or namespace does not match', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const other = ctx.ns();
      await port.set(ns, 'k', 'v');
      const foreignKey = writtenEtag(await port.set(ns, 'j', 'v'));
      const foreignNs = writtenEtag(await port.set(other, 'k', 'v'));
      expect(await port.set(ns, 'k', 'x', { condition: { etag: foreignKey } })).toEqual({ written: false });
      expect(await port.set(ns, 'k', 'x', { condition: { etag: foreignNs } })).toEqual({ written: false });
      expect(text(await port.get(ns, 'k'))).toBe('v');
    });
  });
}
