/**
 * Namespaces are isolated: nothing in one is visible from, or deleted by an
 * operation on, another. The neighbours include names that are prefixes of
 * each other and keys that look like namespace-qualified keys.
 */
import { describe, expect, it } from 'vitest';
import type { CachePort } from '../../src/core/port.js';
import { present, text, writtenEtag, type ContractContext } from './context.js';

const KEYS = ['k', 'p:1', 'p:2', 'q', 'n'];

export function defineIsolationTests(ctx: ContractContext): void {
  /** `ns` and neighbours whose names extend it, all holding the same keys and tags. */
  async function neighbourhood(port: CachePort): Promise<{ ns: string; others: string[] }> {
    const ns = ctx.ns();
    const others = [`${ns}.x`, `${ns}-x`, `${ns}_x`, `${ns}x`, ctx.ns()];
    for (const name of [ns, ...others]) {
      await port.setMany(
        name,
        KEYS.map((key) => ({ key, value: `${name}/${key}`, tags: ['t'], ttl: 60_000 })),
      );
    }
    return { ns, others };
  }

  async function expectUntouched(port: CachePort, others: string[]): Promise<void> {
    for (const other of others) {
      const values = await port.getMany(other, KEYS);
      expect(values.map(text), other).toEqual(KEYS.map((key) => `${other}/${key}`));
      expect((await port.stats(other)).entries, other).toBe(KEYS.length);
      expect(await port.ttl(other, 'p:1'), other).toBeTypeOf('number');
    }
  }

  describe('namespace isolation', () => {
    it('reads see only their own namespace', async () => {
      const port = ctx.port();
      const { ns, others } = await neighbourhood(port);
      expect(text(await port.get(ns, 'k'))).toBe(`${ns}/k`);
      expect(await port.get(ctx.ns(), 'k')).toBeUndefined();
      expect(await port.has(ctx.ns(), 'k')).toBe(false);
      expect(await port.ttl(ctx.ns(), 'k')).toBeUndefined();
      for (const other of others) expect(text(await port.get(other, 'k'))).toBe(`${other}/k`);
      // A key spelled like another namespace's qualified key is just a key.
      expect(await port.get(ns, `${others[0] as string}:k`)).toBeUndefined();
    });

    it('writes and conditions see only their own namespace', async () => {
      const port = ctx.port();
      const { ns, others } = await neighbourhood(port);
      const fresh = ctx.ns();
      expect(await port.set(fresh, 'k', 'v', { condition: 'absent' })).toMatchObject({ written: true, created: true });
      expect(await port.set(ctx.ns(), 'k', 'v', { condition: 'present' })).toEqual({ written: false });
      const etag = present(await port.get(ns, 'k')).etag;
      expect(await port.set(fresh, 'k', 'w', { condition: { etag } })).toEqual({ written: false });
      writtenEtag(await port.set(ns, 'k', 'changed', { condition: { etag } }));
      await port.setMany(ns, [{ key: 'q', value: 'changed' }]);
      await port.expire(ns, 'p:1', null);
      await expectUntouched(port, others);
    });

    it('increment counts per namespace', async () => {
      const port = ctx.port();
      const a = ctx.ns();
      const b = `${a}.b`;
      expect(await port.increment(a, 'n', 5)).toBe(5n);
      expect(await port.increment(b, 'n', 1)).toBe(1n);
      expect(await port.increment(a, 'n', 1)).toBe(6n);
    });

    it('delete, deleteMany, deleteByPrefix, invalidateTags and clear touch only their namespace', async () => {
      const port = ctx.port();
      const { ns, others } = await neighbourhood(port);
      expect(await port.delete(ns, 'k')).toBe(true);
      expect(await port.deleteMany(ns, ['q', 'n'])).toBe(2);
      expect(await port.deleteByPrefix(ns, 'p:')).toBe(2);
      await expectUntouched(port, others);

      const second = await neighbourhood(port);
      expect(await port.invalidateTags(second.ns, ['t'])).toBe(KEYS.length);
      await expectUntouched(port, second.others);

      const third = await neighbourhood(port);
      expect(await port.clear(third.ns)).toBe(KEYS.length);
      expect(await port.getMany(third.ns, KEYS)).toEqual(KEYS.map(() => undefined));
      await expectUntouched(port, third.others);
    });

    it('stats, configure and drop touch only their namespace', async () => {
      const port = ctx.port();
      const { ns, others } = await neighbourhood(port);
      await port.configure(ns, { defaultTtl: 5000, maxEntries: 10 });
      for (const other of others) expect((await port.describe(other)).configured, other).toBe(false);
      await port.set(others[0] as string, 'fresh', 'v');
      expect((await port.ttl(others[0] as string, 'fresh')) as number).toBeGreaterThan(5000);
      await port.delete(others[0] as string, 'fresh');
      await port.drop(ns);
      expect(await port.getMany(ns, KEYS)).toEqual(KEYS.map(() => undefined));
      await expectUntouched(port, others);
    });
  });
}
