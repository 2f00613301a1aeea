/**
 * Values are arbitrary bytes (strings stored as UTF-8), up to the inclusive
 * size limit; keys are 1–1024 bytes of UTF-8 with any characters but NUL.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { LimitExceededError } from '../../src/core/errors.js';
import { expectThrown, present, text, type ContractContext } from './context.js';

/** Keys that break naive SQL LIKE, Redis glob, key-joining or escaping. */
export const AWKWARD_KEYS = [
  '🎉',
  '👩‍👩‍👧‍👦 family',
  '日本語のキー',
  '한국어',
  'e\u0301', // e + combining acute accent
  'é', // precomposed: a different key from the one above
  'a/b/c',
  '100%',
  'a_b',
  '*',
  'a\\b',
  '\\',
  "it's",
  'say "hi"',
  '[x]',
  'a]b[',
  'ns:key:part',
  ':',
  '{hash}tag',
  ' leading and trailing ',
  'tab\tnew\nline',
  '\u{10FFFF}',
  '\u007f\u0001',
  '-',
  '.',
];

export function defineKeyValueTests(ctx: ContractContext): void {
  describe('values', () => {
    it('round-trips all 256 byte values exactly', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const bytes = Buffer.alloc(512);
      for (let i = 0; i < 512; i += 1) bytes[i] = i % 256 === i ? i : 255 - (i % 256);
      await port.set(ns, 'bytes', bytes);
      const entry = present(await port.get(ns, 'bytes'));
      expect(entry.value.length).toBe(512);
      expect(entry.value.equals(bytes)).toBe(true);
    });

    it('accepts a Uint8Array view (honouring its offset) as well as a Buffer', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
      await port.set(ns, 'view', backing.subarray(2, 5));
      expect(present(await port.get(ns, 'view')).value.equals(Buffer.from([1, 2, 3]))).toBe(true);
    });

    it('stores strings as UTF-8', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const value = 'héllo wörld 🎉 日本 \u0000 end';
      await port.set(ns, 'k', value);
      const entry = present(await port.get(ns, 'k'));
      expect(entry.value.equals(Buffer.from(value, 'utf8'))).toBe(true);
      expect(text(entry)).toBe(value);
    });

    it('stores an empty value as a live entry', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'empty', Buffer.alloc(0));
      await port.set(ns, 'emptystr', '');
      expect(present(await port.get(ns, 'empty')).value.length).toBe(0);
      expect(present(await port.get(ns, 'emptystr')).value.length).toBe(0);
      expect(await port.has(ns, 'empty')).toBe(true);
    });

    it('accepts a value of exactly the maximum size and stores it byte-exact', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const big = randomBytes(DEFAULT_ADAPTER_OPTIONS.maxValueBytes);
      expect(await port.set(ns, 'big', big)).toMatchObject({ written: true });
      const entry = present(await port.get(ns, 'big'));
      expect(entry.value.length).toBe(big.length);
      expect(entry.value.equals(big)).toBe(true);
    });

    it('rejects one byte more with LimitExceededError and writes nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'old');
      const tooBig = Buffer.alloc(DEFAULT_ADAPTER_OPTIONS.maxValueBytes + 1, 0x61);
      await expectThrown(() => port.set(ns, 'k', tooBig), LimitExceededError);
      await expectThrown(() => port.set(ns, 'new', tooBig), LimitExceededError);
      await expectThrown(
        () =>
          port.setMany(ns, [
            { key: 'a', value: 'small' },
            { key: 'b', value: tooBig },
          ]),
        LimitExceededError,
      );
      // The limit counts UTF-8 bytes of strings, not characters.
      await expectThrown(() => port.set(ns, 'new', 'é'.repeat(DEFAULT_ADAPTER_OPTIONS.maxValueBytes / 2 + 1)), LimitExceededError);
      expect(text(await port.get(ns, 'k'))).toBe('old');
      expect(await port.getMany(ns, ['new', 'a', 'b'])).toEqual([undefined, undefined, undefined]);
    });
  });

  describe('keys', () => {
    it('Unicode and special-character keys are distinct and round-trip through every operation', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      for (const [i, key] of AWKWARD_KEYS.entries()) {
        expect(await port.set(ns, key, `v${i}`, { tags: [`tag${i}`] }), key).toMatchObject({ written: true, created: true });
      }
      const all = await port.getMany(ns, AWKWARD_KEYS);
      expect(all.map(text)).toEqual(AWKWARD_KEYS.map((_, i) => `v${i}`));
      for (const [i, key] of AWKWARD_KEYS.entries()) {
        expect(text(await port.get(ns, key)), key).toBe(`v${i}`);
        expect(await port.has(ns, key), key).toBe(true);
        expect(await port.ttl(ns, key), key).toBeTypeOf('number');
      }
      expect(await port.has(ns, 'e')).toBe(false);
      expect(await port.delete(ns, 'e\u0301')).toBe(true);
      expect(text(await port.get(ns, 'é'))).toBe(`v${AWKWARD_KEYS.indexOf('é')}`);
      expect(await port.invalidateTags(ns, [`tag${AWKWARD_KEYS.indexOf('100%')}`])).toBe(1);
      expect(await port.increment(ns, '%_*', 2)).toBe(2n);
      expect(await port.deleteMany(ns, ['a_b', '*', 'ab', 'a%b'])).toBe(2);
      expect(await port.clear(ns)).toBe(AWKWARD_KEYS.length - 4 + 1);
    });

    it('accepts a key of exactly 1024 UTF-8 bytes', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const asciiKey = 'k'.repeat(1024);
      const multibyteKey = 'é'.repeat(512); // 2 bytes each
      const emojiKey = '🎉'.repeat(256); // 4 bytes each
      for (const key of [asciiKey, multibyteKey, emojiKey]) {
        await port.set(ns, key, 'v');
        expect(text(await port.get(ns, key))).toBe('v');
      }
      expect(await port.deleteByPrefix(ns, 'k'.repeat(1000))).toBe(1);
    });
  });
}
