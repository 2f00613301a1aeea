/**
 * The change feed on both backends: what each write announces, that a
 * subscriber sees its own port's writes, and that a killed feed connection
 * is reported down and back up. Backend-specific parts (Postgres SQL
 * functions and NOTIFY limits, Redis eviction and sharded pub/sub on a
 * cluster) are in pg-change-feed.test.ts and test/redis/cluster.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RedisPort } from '../../src/adapters/redis/index.js';
import type { ChangeEvent } from '../../src/core/port.js';
import { BACKENDS, useBackend } from '../support/backends.js';
import { killFeedConnections } from './support/feed-faults.js';
import { keysOf, recorder } from './support/recorder.js';

const isChange = (event: ChangeEvent, op: string): boolean => event.type === 'change' && event.op === op;

describe.each(BACKENDS)('change feed ($name)', (factory) => {
  const backend = useBackend(factory);

  it('announces set, setMany, expire, increment, delete, deleteMany with their keys; nothing of other namespaces', async () => {
    const { port } = backend;
    const rec = recorder();
    const sub = await port.changes('feed-a', rec.onEvent);
    await port.set('feed-a', 'k1', 'v', { tags: ['t'] });
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('k1'));
    await port.setMany('feed-a', [
      { key: 'm1', value: 'v' },
      { key: 'm2', value: 'v' },
    ]);
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('m2'));
    await port.expire('feed-a', 'k1', 60_000);
    await rec.waitFor((e) => isChange(e, 'expire') && keysOf(e).includes('k1'));
    await port.increment('feed-a', 'n', 1);
    await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('n'));
    await port.set('feed-b', 'other', 'v');
    await port.delete('feed-a', 'n');
    await rec.waitFor((e) => isChange(e, 'delete') && keysOf(e).includes('n'));
    await port.deleteMany('feed-a', ['m1', 'm2', 'never-written']);
    const deleted = await rec.waitFor((e) => isChange(e, 'delete') && keysOf(e).includes('m1'));
    expect(keysOf(deleted)).not.toContain('never-written');
    expect(rec.events.some((e) => keysOf(e).includes('other'))).toBe(false);
    expect(rec.events.every((e) => e.type !== 'change' || e.ns === 'feed-a')).toBe(true);
    sub.unsubscribe();
  });

  it('announces deleteByPrefix, invalidateTags and clear so a subscriber drops what they removed', async () => {
    const { port } = backend;
    const rec = recorder();
    const sub = await port.changes('feed-bulk', rec.onEvent);
    await port.setMany('feed-bulk', [
      { key: 'list:1', value: 'v' },
      { key: 'user:1', value: 'v', tags: ['users'] },
      { key: 'keep', value: 'v' },
    ]);
    await rec.waitFor((e) => keysOf(e).includes('keep'));
    // A change names its keys, its prefix / tags, or (neither) the whole namespace.
    const covers = (e: ChangeEvent, key: string): boolean =>
      e.type === 'change' &&
      e.op !== 'set' &&
      e.op !== 'expire' &&
      (e.keys?.includes(key) ?? (e.prefix !== undefined ? key.startsWith(e.prefix) : true));
    await port.deleteByPrefix('feed-bulk', 'list:');
    const byPrefix = await rec.waitFor((e) => covers(e, 'list:1'));
    expect(byPrefix).toMatchObject({ type: 'change', ns: 'feed-bulk' });
    await port.invalidateTags('feed-bulk', ['users']);
    await rec.waitFor((e) => covers(e, 'user:1') && rec.events.indexOf(e) > rec.events.indexOf(byPrefix));
    const before = rec.events.length;
    await port.clear('feed-bulk');
    await rec.waitFor((e) => rec.events.indexOf(e) >= before && covers(e, 'keep'));
    sub.unsubscribe();
  });

  it('a callback that throws, or rejects, neither stops delivery to the other subscribers nor escapes as an uncaught error', async () => {
    const { port } = backend;
    const escaped: unknown[] = [];
    const onEscape = (error: unknown): void => {
      escaped.push(error);
    };
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
    try {
      const throwing = await port.changes('feed-throw', () => {
        throw new Error('feed subscriber bug');
      });
      const rejecting = await port.changes('feed-throw', async () => {
        throw new Error('async feed subscriber bug');
      });
      const rec = recorder();
      const watching = await port.changes('feed-throw', rec.onEvent);
      await port.set('feed-throw', 'k1', 'v');
      await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('k1'));
      await port.set('feed-throw', 'k2', 'v');
      await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('k2'));
      // Rejections are reported after a macrotask turn.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(escaped).toEqual([]);
      for (const sub of [throwing, rejecting, watching]) sub.unsubscribe();
    } finally {
      process.off('uncaughtException', onEscape);
      process.off('unhandledRejection', onEscape);
    }
  });

  it('delivers a write to a subscriber of the same port right after subscribe resolves (own writes)', async () => {
    const { port } = backend;
    for (let i = 0; i < 5; i++) {
      const rec = recorder();
      const sub = await port.changes(`feed-own-${i}`, rec.onEvent);
      await port.set(`feed-own-${i}`, 'mine', String(i));
      await rec.waitFor((e) => isChange(e, 'set') && keysOf(e).includes('mine'));
      sub.unsubscribe();
    }
  });

  it('reports down at once when the feed connection is killed, reconnects, reports up and delivers again', async () => {
    const { port, scope } = backend;
    const rec = recorder();
    const sub = await port.changes('feed-kill', rec.onEvent);
    expect(await killFeedConnections(factory.name, scope)).toBeGreaterThan(0);
    await rec.waitFor((e) => e.type === 'down');
    await rec.waitFor((e) => e.type === 'up', 20_000);
    await port.set('feed-kill', 'after', 'v');
    await rec.waitFor((e) => keysOf(e).includes('after'));
    sub.unsubscribe();
  }, 40_000);

  const onRedis = it.runIf(factory.name === 'redis');
  onRedis('announces exact ops on Redis: prefix, tags, clear, and the eviction of a bounded namespace', async () => {
    const port = backend.port as RedisPort;
    const rec = recorder();
    const sub = await port.changes('feed-ops', rec.onEvent);
    await port.set('feed-ops', 'p:1', 'v', { tags: ['t'] });
    await port.deleteByPrefix('feed-ops', 'p:');
    await rec.waitFor((e) => e.type === 'change' && e.op === 'prefix' && e.prefix === 'p:');
    await port.set('feed-ops', 'q', 'v', { tags: ['t'] });
    await port.invalidateTags('feed-ops', ['t']);
    await rec.waitFor((e) => e.type === 'change' && e.op === 'tags' && e.tags?.[0] === 't');
    await port.set('feed-ops', 'r', 'v');
    await port.clear('feed-ops');
    await rec.waitFor((e) => e.type === 'change' && e.op === 'clear' && e.keys === undefined);
    await port.configure('feed-ops', { maxEntries: 2 });
    await port.setMany(
      'feed-ops',
      ['e1', 'e2', 'e3', 'e4'].map((key) => ({ key, value: 'v' })),
    );
    expect(await port.enforceBounds('feed-ops')).toBe(2);
    const evicted = await rec.waitFor((e) => isChange(e, 'evict'));
    expect(keysOf(evicted)).toHaveLength(2);
    // Nothing is announced for a write that did not happen.
    await port.set('feed-ops', 'there', 'v');
    await rec.waitFor((e) => keysOf(e).includes('there'));
    const count = rec.events.length;
    expect((await port.set('feed-ops', 'there', 'x', { condition: 'absent' })).written).toBe(false);
    expect(await port.delete('feed-ops', 'nothing-here')).toBe(false);
    expect(await port.expire('feed-ops', 'nothing-here', 1000)).toBe(false);
    await port.set('feed-ops', 'marker', 'v');
    await rec.waitFor((e) => keysOf(e).includes('marker'));
    expect(rec.events.slice(count).flatMap(keysOf)).toEqual(['marker']);
    sub.unsubscribe();
  });
});
