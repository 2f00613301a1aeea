/**
 * Atomicity under concurrency: conditional writes and increments issued in
 * parallel behave as if applied one at a time.
 */
import { describe, expect, it } from 'vitest';
import type { SetResult } from '../../src/core/port.js';
import { EXPIRY_WAIT, SHORT_TTL, present, sleep, text, writtenEtag, type ContractContext } from './context.js';

const PARALLEL = 50;

function winners(results: SetResult[]): { index: number; etag: string }[] {
  return results.flatMap((r, index) => (r.written ? [{ index, etag: r.etag }] : []));
}

export function defineConcurrencyTests(ctx: ContractContext): void {
  describe('concurrency', () => {
    it(`${PARALLEL} parallel 'absent' sets on one key: exactly one writes, and its value stays`, async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => port.set(ns, 'k', `writer-${i}`, { condition: 'absent' })),
      );
      const won = winners(results);
      expect(won).toHaveLength(1);
      const [winner] = won as [{ index: number; etag: string }];
      expect(results[winner.index]).toMatchObject({ created: true });
      const entry = present(await port.get(ns, 'k'));
      expect(text(entry)).toBe(`writer-${winner.index}`);
      expect(entry.etag).toBe(winner.etag);
    });

    it(`${PARALLEL} parallel 'absent' sets over an expired entry: exactly one writes`, async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      writtenEtag(await port.set(ns, 'k', 'expired', { ttl: SHORT_TTL }));
      await sleep(EXPIRY_WAIT);
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => port.set(ns, 'k', `writer-${i}`, { condition: 'absent', ttl: null })),
      );
      const won = winners(results);
      expect(won).toHaveLength(1);
      expect(text(await port.get(ns, 'k'))).toBe(`writer-${(won[0] as { index: number }).index}`);
    });

    it(`${PARALLEL} parallel compare-and-sets with the same ETag: exactly one writes`, async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const etag = writtenEtag(await port.set(ns, 'k', 'start'));
      const results = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => port.set(ns, 'k', `writer-${i}`, { condition: { etag } })),
      );
      const won = winners(results);
      expect(won).toHaveLength(1);
      const [winner] = won as [{ index: number; etag: string }];
      expect(results[winner.index]).toMatchObject({ created: false });
      const entry = present(await port.get(ns, 'k'));
      expect(text(entry)).toBe(`writer-${winner.index}`);
      expect(entry.etag).toBe(winner.etag);
    });

    it(`${PARALLEL} parallel unconditional sets on a new key: all write, exactly one reports created`, async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const results = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => port.set(ns, 'k', `writer-${i}`)));
      expect(results.every((r) => r.written)).toBe(true);
      expect(results.filter((r) => r.written && r.created)).toHaveLength(1);
      const etags = new Set(winners(results).map((w) => w.etag));
      expect(etags.size).toBe(PARALLEL);
      const entry = present(await port.get(ns, 'k'));
      expect(etags.has(entry.etag)).toBe(true);
    });

    it('200 parallel increments: final value 200 and every intermediate value returned once', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const results = await Promise.all(Array.from({ length: 200 }, () => port.increment(ns, 'n', 1)));
      expect(await port.increment(ns, 'n', 0)).toBe(200n);
      expect(text(await port.get(ns, 'n'))).toBe('200');
      const sorted = [...results].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      expect(sorted).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(i + 1)));
    });

    it('parallel increments in both directions net out exactly', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await Promise.all(Array.from({ length: 100 }, (_, i) => port.increment(ns, 'n', i % 2 === 0 ? 3 : -1)));
      expect(await port.increment(ns, 'n', 0)).toBe(100n);
    });

    it('usage() counts calls in flight and returns to 0 when they finish', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      // Background work (the adapter's batched stats flushes) also counts while it runs: wait for a quiet moment.
      await expect.poll(() => port.usage().inFlight, { timeout: 10_000, interval: 5 }).toBe(0);
      const idle = port.usage();
      expect(idle.poolSize === null || idle.poolSize >= 1).toBe(true);
      const calls = Array.from({ length: 20 }, (_, i) => port.set(ns, `u${i}`, 'v'));
      // Let the calls pass their validation and cache lookups (microtasks only: no I/O can complete).
      for (let i = 0; i < 20; i++) await Promise.resolve();
      expect(port.usage().inFlight).toBeGreaterThan(0);
      await Promise.all(calls);
      await expect.poll(() => port.usage().inFlight, { timeout: 10_000, interval: 5 }).toBe(0);
    });
  });
}
