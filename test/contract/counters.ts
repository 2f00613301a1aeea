/**
 * increment: atomic, starts at 0, ttl only on creation, typed errors for a
 * non-integer value or signed 64-bit overflow that leave the entry unchanged.
 */
import { describe, expect, it } from 'vitest';
import { IntegerOverflowError, NotAnIntegerError } from '../../src/core/errors.js';
import { LONG_TTL, expectSameEntry, expectThrown, present, text, writtenEtag, type ContractContext } from './context.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

export function defineCounterTests(ctx: ContractContext): void {
  describe('increment', () => {
    it('starts at 0, defaults to +1, accepts numbers and bigints, and stores decimal text', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.increment(ns, 'n')).toBe(1n);
      expect(await port.increment(ns, 'n', 10)).toBe(11n);
      expect(await port.increment(ns, 'n', 5n)).toBe(16n);
      expect(text(await port.get(ns, 'n'))).toBe('16');
      expect(await port.increment(ns, 'fresh', 7)).toBe(7n);
    });

    it('by a negative amount decrements, below zero too', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.increment(ns, 'n', -3)).toBe(-3n);
      expect(await port.increment(ns, 'n', 1)).toBe(-2n);
      expect(await port.increment(ns, 'n', -10n)).toBe(-12n);
      expect(text(await port.get(ns, 'n'))).toBe('-12');
      expect(await port.increment(ns, 'n', 0)).toBe(-12n);
    });

    it('continues from a value written by set as decimal text', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'n', '41');
      expect(await port.increment(ns, 'n')).toBe(42n);
      await port.set(ns, 'm', Buffer.from('-7'));
      expect(await port.increment(ns, 'm', 7)).toBe(0n);
      expect(text(await port.get(ns, 'm'))).toBe('0');
    });

    it('applies the ttl only when it creates the counter', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.increment(ns, 'n', 1, { ttl: 60_000 });
      const first = await port.ttl(ns, 'n');
      expect(first as number).toBeGreaterThan(50_000);
      expect(first as number).toBeLessThanOrEqual(60_000);
      await port.increment(ns, 'n', 1, { ttl: LONG_TTL });
      expect((await port.ttl(ns, 'n')) as number).toBeLessThanOrEqual(60_000);
      await port.increment(ns, 'n', 1, { ttl: null });
      expect((await port.ttl(ns, 'n')) as number).toBeLessThanOrEqual(60_000);

      await port.increment(ns, 'forever', 1, { ttl: null });
      expect(await port.ttl(ns, 'forever')).toBeNull();
      await port.increment(ns, 'forever', 1, { ttl: 1000 });
      expect(await port.ttl(ns, 'forever')).toBeNull();

      await port.set(ns, 'set', '1', { ttl: null });
      await port.increment(ns, 'set', 1, { ttl: 1000 });
      expect(await port.ttl(ns, 'set')).toBeNull();
    });

    it('keeps the expiry of an existing entry', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'n', '1', { ttl: 60_000 });
      const before = present(await port.get(ns, 'n')).expiresAt as number;
      await port.increment(ns, 'n');
      const after = present(await port.get(ns, 'n')).expiresAt;
      expect(after).not.toBeNull();
      // Adapters may derive expiresAt from the remaining ttl (Redis PTTL): allow a little drift.
      expect(Math.abs((after as number) - before)).toBeLessThan(1000);
    });

    it('changes the ETag', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const etag = writtenEtag(await port.set(ns, 'n', '1'));
      await port.increment(ns, 'n');
      expect(present(await port.get(ns, 'n')).etag).not.toBe(etag);
      expect(await port.set(ns, 'n', 'x', { condition: { etag } })).toEqual({ written: false });
    });

    for (const value of ['abc', '1.5', '12a', '1e3', ' 1']) {
      it(`throws NotAnIntegerError on ${JSON.stringify(value)} and changes nothing`, async () => {
        const port = ctx.port();
        const ns = ctx.ns();
        await port.set(ns, 'k', value, { ttl: 60_000 });
        const before = present(await port.get(ns, 'k'));
        await expectThrown(() => port.increment(ns, 'k', 1), NotAnIntegerError);
        expectSameEntry(await port.get(ns, 'k'), before);
      });
    }

    it('throws NotAnIntegerError on binary bytes and changes nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', Buffer.from([0xff, 0x00, 0x31]));
      const before = present(await port.get(ns, 'k'));
      await expectThrown(() => port.increment(ns, 'k', 1), NotAnIntegerError);
      expectSameEntry(await port.get(ns, 'k'), before);
    });

    it('reaches the int64 bounds exactly and throws IntegerOverflowError past them, changing nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.increment(ns, 'max', INT64_MAX - 1n)).toBe(INT64_MAX - 1n);
      expect(await port.increment(ns, 'max', 1)).toBe(INT64_MAX);
      const atMax = present(await port.get(ns, 'max'));
      expect(text(atMax)).toBe(INT64_MAX.toString());
      await expectThrown(() => port.increment(ns, 'max', 1), IntegerOverflowError);
      await expectThrown(() => port.increment(ns, 'max', INT64_MAX), IntegerOverflowError);
      expectSameEntry(await port.get(ns, 'max'), atMax);

      await port.set(ns, 'min', INT64_MIN.toString());
      const atMin = present(await port.get(ns, 'min'));
      await expectThrown(() => port.increment(ns, 'min', -1), IntegerOverflowError);
      expectSameEntry(await port.get(ns, 'min'), atMin);
      expect(await port.increment(ns, 'min', 1)).toBe(INT64_MIN + 1n);

      // Overflow on creation: a missing key starts at 0, so only `by` itself could overflow, which
      // validation rejects; INT64_MIN as `by` is in range and must work.
      expect(await port.increment(ns, 'neg', INT64_MIN)).toBe(INT64_MIN);
    });
  });
}
