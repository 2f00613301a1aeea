/**
 * Expiry: an expired entry is never returned and counts as absent for every
 * operation, whether or not cleanup has run (no test here runs cleanup).
 * Entries get SHORT_TTL and the test waits EXPIRY_WAIT (several times longer).
 */
import { describe, expect, it } from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import { EXPIRY_WAIT, LONG_TTL, SHORT_TTL, present, sleep, text, writtenEtag, type ContractContext } from './context.js';

export function defineExpiryTests(ctx: ContractContext): void {
  /** Writes `keys` with a short ttl (checking each was written) and waits until they are past it. */
  async function writeExpired(port: CachePort, ns: string, keys: string[], tags: string[] = []): Promise<string[]> {
    const etags: string[] = [];
    for (const key of keys) etags.push(writtenEtag(await port.set(ns, key, `expired-${key}`, { ttl: SHORT_TTL, tags })));
    await sleep(EXPIRY_WAIT);
    return etags;
  }

  describe('expiry', () => {
    it('an entry is readable before its ttl and never returned after it', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v', { ttl: 2000 });
      expect(text(await port.get(ns, 'k'))).toBe('v');
      await sleep(3000);
      expect(await port.get(ns, 'k')).toBeUndefined();
      expect(await port.getMany(ns, ['k', 'k'])).toEqual([undefined, undefined]);
    });

    it('expired entries are absent for get, getMany, has and ttl', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'live', 'v', { ttl: LONG_TTL });
      await writeExpired(port, ns, ['a', 'b']);
      expect(await port.get(ns, 'a')).toBeUndefined();
      expect((await port.getMany(ns, ['a', 'live', 'b'])).map(text)).toEqual([undefined, 'v', undefined]);
      expect(await port.has(ns, 'a')).toBe(false);
      expect(await port.ttl(ns, 'a')).toBeUndefined();
      expect(await port.has(ns, 'live')).toBe(true);
    });

    it("an expired entry is absent for conditions: 'absent' writes (created), 'present' and its ETag do not", async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      const [etagA] = await writeExpired(port, ns, ['a', 'b', 'c']);
      expect(await port.set(ns, 'a', 'x', { condition: { etag: etagA as string } })).toEqual({ written: false });
      expect(await port.set(ns, 'b', 'x', { condition: 'present' })).toEqual({ written: false });
      expect(await port.get(ns, 'a')).toBeUndefined();
      expect(await port.get(ns, 'b')).toBeUndefined();
      const absent = await port.set(ns, 'c', 'fresh', { condition: 'absent', ttl: null });
      expect(absent).toMatchObject({ written: true, created: true });
      const entry = present(await port.get(ns, 'c'));
      expect(text(entry)).toBe('fresh');
      expect(entry.expiresAt).toBeNull();
    });

    it('an unconditional write over an expired entry reports created and drops the old tags', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await writeExpired(port, ns, ['k'], ['old']);
      expect(await port.set(ns, 'k', 'new', { ttl: null })).toMatchObject({ written: true, created: true });
      expect(present(await port.get(ns, 'k')).tags).toEqual([]);
      expect(await port.invalidateTags(ns, ['old'])).toBe(0);
      expect(await port.has(ns, 'k')).toBe(true);
    });

    it('delete and deleteMany do not count expired entries', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'live', 'v', { ttl: LONG_TTL });
      await writeExpired(port, ns, ['a', 'b']);
      expect(await port.delete(ns, 'a')).toBe(false);
      expect(await port.deleteMany(ns, ['b', 'live'])).toBe(1);
    });

    it('deleteByPrefix, invalidateTags and clear do not count expired entries', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'p:live', 'v', { ttl: LONG_TTL, tags: ['t'] });
      await port.set(ns, 'q:live', 'v', { ttl: LONG_TTL, tags: ['u'] });
      await port.set(ns, 'r:live', 'v', { ttl: LONG_TTL });
      await writeExpired(port, ns, ['p:gone', 'q:gone', 'r:gone'], ['t', 'u']);
      expect(await port.deleteByPrefix(ns, 'p:')).toBe(1);
      expect(await port.invalidateTags(ns, ['u'])).toBe(1);
      expect(await port.clear(ns)).toBe(1);
      expect(await port.has(ns, 'r:live')).toBe(false);
    });

    it('expire on an expired entry returns false and does not revive it', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await writeExpired(port, ns, ['a', 'b']);
      expect(await port.expire(ns, 'a', LONG_TTL)).toBe(false);
      expect(await port.expire(ns, 'b', null)).toBe(false);
      expect(await port.get(ns, 'a')).toBeUndefined();
      expect(await port.get(ns, 'b')).toBeUndefined();
    });

    it('expire with a short ttl makes a live entry expire', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'k', 'v', { ttl: null });
      expect(await port.expire(ns, 'k', SHORT_TTL)).toBe(true);
      await sleep(EXPIRY_WAIT);
      expect(await port.get(ns, 'k')).toBeUndefined();
      expect(await port.has(ns, 'k')).toBe(false);
    });

    it('increment of an expired counter restarts at 0', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'n', '41', { ttl: SHORT_TTL });
      await sleep(EXPIRY_WAIT);
      expect(await port.increment(ns, 'n', 1, { ttl: null })).toBe(1n);
      expect(await port.ttl(ns, 'n')).toBeNull();
    });

    it('an increment created with a short ttl expires', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      expect(await port.increment(ns, 'n', 5, { ttl: SHORT_TTL })).toBe(5n);
      await sleep(EXPIRY_WAIT);
      expect(await port.has(ns, 'n')).toBe(false);
      expect(await port.increment(ns, 'n', 1, { ttl: null })).toBe(1n);
    });

    it('an expired non-integer value does not block increment', async () => {
      const port = ctx.port();
      const ns = ctx.ns();
      await port.set(ns, 'n', 'not a number', { ttl: SHORT_TTL });
      await sleep(EXPIRY_WAIT);
      expect(await port.increment(ns, 'n', 2)).toBe(2n);
    });
  });
}
