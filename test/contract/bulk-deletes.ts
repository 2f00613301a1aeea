/**
 * deleteByPrefix (literal, no wildcards), invalidateTags (any of the tags)
 * and clear: each returns the number of live entries deleted.
 */
import { describe, expect, it } from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import type { ContractContext } from './context.js';

export function defineBulkDeleteTests(ctx: ContractContext): void {
  async function writeKeys(port: CachePort, ns: string, keys: string[]): Promise<void> {
    await port.setMany(
      ns,
      keys.map((key) => ({ key, value: key })),
    );
  }

  async function liveKeys(port: CachePort, ns: string, keys: string[]): Promise<string[]> {
    const entries = await port.getMany(ns, keys);
    return keys.filter((_, i) => entries[i] !== undefined);
  }

  /** Writes `keys`, deletes by `prefix`, and checks the count and which keys remain. */
  async function checkPrefix(keys: string[], prefix: string, expectedDeleted: string[]): Promise<void> {
    const port = ctx.port();
    const ns = ctx.ns();
    await writeKeys(port, ns, keys);
    expect(await port.deleteByPrefix(ns, prefix), `deleteByPrefix(${JSON.stringify(prefix)})`).toBe(expectedDeleted.length);
    expect(await liveKeys(port, ns, keys)).toEqual(keys.filter((k) => !expectedDeleted.includes(k)));
  }

  describe('deleteByPrefix', () => {
    it('deletes exactly the keys starting with the prefix, including the prefix itself', async () => {
      await checkPrefix(['user:1', 'user:2', 'user:10:x', 'user', 'user;1', 'usera', 'users:1', 'xuser:1', 'USER:1'], 'user:', [
        'user:1',
        'user:2',
        'user:10:x',
      ]);
      await checkPrefix(['ab', 'abc', 'a', 'b', 'aab'], 'ab', ['ab', 'abc']);
    });

    it("treats % literally: 'a%' deletes 'a%x' but not 'abc'", async () => {
      await checkPrefix(['a%x', 'a%', 'abc', 'a', 'ax%', 'b%'], 'a%', ['a%x', 'a%']);
    });

    it("treats _ literally: 'a_' does not delete 'ab'", async () => {
      await checkPrefix(['a_', 'a_b', 'ab', 'a', 'aXb', 'b_'], 'a_', ['a_', 'a_b']);
    });

    it('treats backslash literally', async () => {
      await checkPrefix(['a\\', 'a\\b', 'a\\%', 'ab', 'a', 'a\\\\x', 'a%', 'a_'], 'a\\', ['a\\', 'a\\b', 'a\\%', 'a\\\\x']);
      await checkPrefix(['a\\%x', 'a%x', 'a\\x'], 'a\\%', ['a\\%x']);
    });

    it('treats glob characters * ? [ ] literally', async () => {
      await checkPrefix(['a*b', 'a*', 'ab', 'axb', 'a'], 'a*', ['a*b', 'a*']);
      await checkPrefix(['a?b', 'ab', 'axb'], 'a?', ['a?b']);
      await checkPrefix(['[ab]c', 'ac', 'bc', '[ab]', '[a'], '[ab]', ['[ab]c', '[ab]']);
      await checkPrefix(['x]y', 'x]', 'xy'], 'x]', ['x]y', 'x]']);
    });

    it('treats quotes, slashes and colons literally', async () => {
      await checkPrefix(["it's", "it'", 'its', 'it"s', 'it/s', 'it:s'], "it'", ["it's", "it'"]);
      await checkPrefix(['a"b', 'ab', 'a"'], 'a"', ['a"b', 'a"']);
      await checkPrefix(['a/b/c', 'a/b', 'a/', 'ab'], 'a/b', ['a/b/c', 'a/b']);
      await checkPrefix(['a:b', 'a::', 'a', 'a;'], 'a:', ['a:b', 'a::']);
    });

    it('matches Unicode prefixes by code points, not bytes or collation', async () => {
      await checkPrefix(['日本語', '日本', '日', '日本人', 'にほん'], '日本', ['日本語', '日本', '日本人']);
      await checkPrefix(['é1', 'e1', 'e\u03011', 'é'], 'é', ['é1', 'é']);
      await checkPrefix(['e\u03011', 'é1', 'e1'], 'e\u0301', ['e\u03011']);
      await checkPrefix(['🎉a', '🎉', '🎊a', 'a🎉'], '🎉', ['🎉a', '🎉']);
      // The highest code point has no successor: the range must still end correctly.
      await checkPrefix(['z\u{10FFFF}a', 'z\u{10FFFF}', 'z\u{10FFFE}', 'za', '{'], 'z\u{10FFFF}', ['z\u{10FFFF}a', 'z\u{10FFFF}']);
    });

    it('is case-sensitive', async () => {
      await checkPrefix(['Abc', 'abc', 'ABC'], 'A', ['Abc', 'ABC']);
    });

    it('returns 0 when nothing matches', async () => {
      await checkPrefix(['a', 'b'], 'c', []);
    });
  });

  describe('invalidateTags', () => {
    it('deletes entries carrying any of the tags and returns the count', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', '1', { tags: ['red'] });
      await port.set(ns, 'b', '2', { tags: ['red', 'blue'] });
      await port.set(ns, 'c', '3', { tags: ['blue'] });
      await port.set(ns, 'd', '4', { tags: ['green'] });
      await port.set(ns, 'e', '5');
      expect(await port.invalidateTags(ns, ['red', 'blue'])).toBe(3);
      expect(await liveKeys(port, ns, ['a', 'b', 'c', 'd', 'e'])).toEqual(['d', 'e']);
      expect(await port.invalidateTags(ns, ['red'])).toBe(0);
    });

    it('a single tag deletes every entry carrying it, once', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', '1', { tags: ['t', 'u'] });
      await port.set(ns, 'b', '2', { tags: ['u', 't'] });
      await port.set(ns, 'c', '3', { tags: ['v'] });
      expect(await port.invalidateTags(ns, ['t', 't', 'u'])).toBe(2);
      expect(await liveKeys(port, ns, ['a', 'b', 'c'])).toEqual(['c']);
    });

    it('tags are exact strings: no prefix or pattern match', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', '1', { tags: ['t%'] });
      await port.set(ns, 'b', '2', { tags: ['tx'] });
      await port.set(ns, 'c', '3', { tags: ['t'] });
      await port.set(ns, 'd', '4', { tags: ['T'] });
      await port.set(ns, 'e', '5', { tags: ['t*'] });
      expect(await port.invalidateTags(ns, ['t%'])).toBe(1);
      expect(await port.invalidateTags(ns, ['t*'])).toBe(1);
      expect(await liveKeys(port, ns, ['a', 'b', 'c', 'd', 'e'])).toEqual(['b', 'c', 'd']);
      expect(await port.invalidateTags(ns, ['t'])).toBe(1);
      expect(await liveKeys(port, ns, ['b', 'c', 'd'])).toEqual(['b', 'd']);
    });

    it('a key rewritten after invalidation is live again, and a deleted key no longer counts', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', '1', { tags: ['t'] });
      await port.set(ns, 'b', '1', { tags: ['t'] });
      await port.delete(ns, 'b');
      expect(await port.invalidateTags(ns, ['t'])).toBe(1);
      await port.set(ns, 'a', '2', { tags: ['t'] });
      expect(await port.has(ns, 'a')).toBe(true);
      expect(await port.invalidateTags(ns, ['t'])).toBe(1);
    });

    it('Unicode and special-character tags work', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'a', '1', { tags: ['ταγ', '🏷️', "o'neil", 'a:b/c\\d'] });
      await port.set(ns, 'b', '1', { tags: ['a:b/c\\d'] });
      expect(await port.invalidateTags(ns, ['🏷️'])).toBe(1);
      expect(await port.invalidateTags(ns, ['a:b/c\\d'])).toBe(1);
      expect(await liveKeys(port, ns, ['a', 'b'])).toEqual([]);
    });
  });

  describe('clear', () => {
    it('deletes every entry of the namespace and returns the count', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await writeKeys(port, ns, ['a', 'b', 'c%', 'd_']);
      await port.set(ns, 'tagged', 'v', { tags: ['t'] });
      expect(await port.clear(ns)).toBe(5);
      expect(await liveKeys(port, ns, ['a', 'b', 'c%', 'd_', 'tagged'])).toEqual([]);
      expect(await port.clear(ns)).toBe(0);
      // Tags of cleared entries are gone too.
      expect(await port.invalidateTags(ns, ['t'])).toBe(0);
      await port.set(ns, 'a', 'again');
      expect(await port.has(ns, 'a')).toBe(true);
    });

    it('of an unknown namespace returns 0', async () => {
      expect(await ctx.port().clear(ctx.ns())).toBe(0);
    });
  });
}
