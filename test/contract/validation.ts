/**
 * Invalid input is a typed ValidationError (with invalidParams) raised before
 * any backend call: it changes nothing, and a port whose backend is
 * unreachable still answers with ValidationError, not a backend error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendUnavailableError, LimitExceededError, ValidationError } from '../../src/core/errors.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';
import { caught, expectSameEntry, expectThrown, expectValidationError, present, type ContractContext } from './context.js';
import { invalidCalls } from './invalid-calls.js';

export function defineValidationTests(ctx: ContractContext): void {
  const calls = invalidCalls();

  describe('validation on the live port', () => {
    it('every invalid call throws ValidationError naming the field, and nothing changes', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'orig', { tags: ['t'], ttl: 60_000 });
      const before = present(await port.get(ns, 'k'));
      const listed = (await port.list({ only: { names: [ns], prefixes: [] } })).namespaces.map((info) => info.name);
      const wrong: string[] = [];
      for (const invalid of calls) {
        const error = await caught(() => invalid.call(port, ns));
        if (!(error instanceof ValidationError)) wrong.push(`${invalid.title}: ${String(error)}`);
        else if (!error.invalidParams.some((p) => invalid.field.test(p.name)))
          wrong.push(`${invalid.title}: names ${JSON.stringify(error.invalidParams)}`);
      }
      expect(wrong).toEqual([]);
      expectSameEntry(await port.get(ns, 'k'), before);
      expect(await port.getMany(ns, ['ok', 'a', 'b'])).toEqual([undefined, undefined, undefined]);
      expect((await port.describe(ns)).configured).toBe(false);
      expect((await port.stats(ns)).entries).toBe(1);
      expect((await port.list({ only: { names: [ns], prefixes: [] } })).namespaces.map((info) => info.name)).toEqual(listed);
    });

    it('the limits themselves are valid: 365 days ttl, 1024-byte key and prefix, 64 tags of 256 bytes', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const tags = Array.from({ length: 64 }, (_, i) => `${i}`.padStart(256, 'x'));
      await port.set(ns, 'k'.repeat(1024), 'v', { ttl: 365 * 24 * 60 * 60 * 1000, tags });
      expect([...present(await port.get(ns, 'k'.repeat(1024))).tags].sort()).toEqual([...tags].sort());
      expect(await port.expire(ns, 'k'.repeat(1024), 365 * 24 * 60 * 60 * 1000)).toBe(true);
      expect(await port.invalidateTags(ns, [tags[63] as string])).toBe(1);
      expect(await port.deleteByPrefix(ns, 'p'.repeat(1024))).toBe(0);
      expect(await port.increment(ns, 'n', 1, { ttl: 365 * 24 * 60 * 60 * 1000 })).toBe(1n);
    });
  });

  describe('batch limits', () => {
    it('getMany, setMany and deleteMany over maxBatch items throw LimitExceededError and change nothing', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const keys = Array.from({ length: DEFAULT_ADAPTER_OPTIONS.maxBatch + 1 }, (_, i) => `k${i}`);
      await port.set(ns, 'k0', 'v');
      await expectThrown(() => port.getMany(ns, keys), LimitExceededError);
      await expectThrown(
        () =>
          port.setMany(
            ns,
            keys.map((key) => ({ key, value: 'x' })),
          ),
        LimitExceededError,
      );
      await expectThrown(() => port.deleteMany(ns, keys), LimitExceededError);
      expect(await port.getMany(ns, ['k0', 'k1'])).toEqual([expect.objectContaining({ value: Buffer.from('v') }), undefined]);
      // Exactly maxBatch is allowed.
      expect(await port.getMany(ns, keys.slice(1))).toHaveLength(DEFAULT_ADAPTER_OPTIONS.maxBatch);
    });
  });

  describe('validation before any backend call (unreachable backend)', () => {
    let unreachable: CachePort;

    beforeAll(async () => {
      unreachable = await createUnreachablePort(ctx.factory.name);
    });

    afterAll(async () => {
      // Bounded: a hung close() must not hang the suite (it would fail its own lifecycle tests).
      await Promise.race([unreachable.close(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    });

    it('a valid call on this port fails with BackendUnavailableError (so the port really is unreachable)', async () => {
      await expectThrown(() => unreachable.get('ns', 'k'), BackendUnavailableError);
    });

    it.each(calls.map((c) => [c.title, c] as const))('%s → ValidationError', async (_title, invalid) => {
      await expectValidationError(() => invalid.call(unreachable, 'ns'), invalid.field);
    });
  });
}
