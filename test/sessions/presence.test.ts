/**
 * PresenceTracker on every backend: join/heartbeat/leave, ordered bounded
 * lists with a total count, lapsed members invisible without any cleanup run,
 * data limits and name validation.
 */
import { describe, expect, it } from 'vitest';
import { LimitExceededError, ValidationError } from '../../src/core/errors.js';
import { BACKENDS, type TestBackend, useBackend } from '../support/backends.js';
import { rawPresenceRows, sleepUntil } from './inspect.js';

const MIN = 60_000;

/** Heartbeats members in parallel batches (bounded concurrency for a shared machine). */
async function heartbeatAll(backend: TestBackend, channel: string, members: string[], ttl: number): Promise<void> {
  for (let i = 0; i < members.length; i += 50) {
    await Promise.all(members.slice(i, i + 50).map((m) => backend.port.heartbeat(channel, m, { ttl })));
  }
}

describe.each(BACKENDS)('presence on $name', (factory) => {
  const backend = useBackend(factory);

  it('joins, refreshes and leaves', async () => {
    const { port } = backend;
    const before = Date.now();
    await port.heartbeat('room:1', 'alice', { ttl: MIN, data: { status: 'typing' } });
    await port.heartbeat('room:1', 'bob', { ttl: MIN });
    expect(await port.count('room:1')).toBe(2);

    const list = await port.members('room:1');
    expect(list.count).toBe(2);
    expect(list.members.map((m) => m.member)).toEqual(['alice', 'bob']);
    expect(list.members[0]?.data).toEqual({ status: 'typing' });
    expect(list.members[1]?.data).toBeNull();
    expect(list.members[0]?.expiresAt).toBeGreaterThanOrEqual(before + MIN - 1000);

    // A heartbeat replaces data and moves the expiry.
    await port.heartbeat('room:1', 'alice', { ttl: 2 * MIN, data: { status: 'idle' } });
    const refreshed = (await port.members('room:1')).members[0];
    expect(refreshed?.data).toEqual({ status: 'idle' });
    expect(refreshed?.expiresAt).toBeGreaterThan(list.members[0]?.expiresAt ?? Infinity);
    expect(await port.count('room:1')).toBe(2);

    expect(await port.leave('room:1', 'alice')).toBe(true);
    expect(await port.leave('room:1', 'alice')).toBe(false);
    expect(await port.members('room:1')).toEqual({ count: 1, members: [expect.objectContaining({ member: 'bob' })] });
  });

  it('keeps channels apart and answers count 0 for an unknown channel', async () => {
    const { port } = backend;
    await port.heartbeat('chan-a', 'm', { ttl: MIN });
    expect(await port.count('chan-b')).toBe(0);
    expect(await port.members('chan-b')).toEqual({ count: 0, members: [] });
    expect(await port.leave('chan-b', 'm')).toBe(false);
    expect(await port.count('chan-a')).toBe(1);
  });

  it('lists in member-name order (byte-wise), bounded by limit, with the total count', async () => {
    const { port } = backend;
    const names = ['b', 'a', 'C', 'B', '_', '0', 'a.b', 'a:b', 'z-1'];
    for (const name of names) await port.heartbeat('order', name, { ttl: MIN });
    const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const all = await port.members('order');
    expect(all.members.map((m) => m.member)).toEqual(sorted);
    const page = await port.members('order', { limit: 3 });
    expect(page.count).toBe(names.length);
    expect(page.members.map((m) => m.member)).toEqual(sorted.slice(0, 3));
  });

  it('never lists or counts a lapsed member, with no cleanup run (1,000 members)', async () => {
    const { port } = backend;
    const members = Array.from({ length: 1000 }, (_, i) => `user-${String(i).padStart(4, '0')}`);
    await heartbeatAll(backend, 'crowd', members, 10 * MIN);
    expect(await port.count('crowd')).toBe(1000);
    const listed = await port.members('crowd');
    expect(listed.count).toBe(1000);
    expect(listed.members).toHaveLength(1000); // the default limit is 1000
    expect((await port.members('crowd', { limit: 10 })).members).toHaveLength(10);

    // Every member heartbeats again with a short ttl, then stops.
    await heartbeatAll(backend, 'crowd', members, 1000);
    const lastHeartbeat = Date.now();
    await sleepUntil(lastHeartbeat + 1500);
    if (factory.name === 'postgres') expect(await rawPresenceRows(backend.scope, 'crowd')).toBe(1000); // nothing removed them
    expect(await port.count('crowd')).toBe(0);
    expect(await port.members('crowd')).toEqual({ count: 0, members: [] });
  });

  it('lists only the members that are still live', async () => {
    const { port } = backend;
    await port.heartbeat('mixed', 'short', { ttl: 300 });
    await port.heartbeat('mixed', 'long', { ttl: MIN });
    const start = Date.now();
    await sleepUntil(start + 700);
    expect(await port.members('mixed')).toEqual({ count: 1, members: [expect.objectContaining({ member: 'long' })] });
    expect(await port.leave('mixed', 'short')).toBe(false); // lapsed counts as not present
    // A lapsed member that heartbeats again is back.
    await port.heartbeat('mixed', 'short', { ttl: MIN });
    expect(await port.count('mixed')).toBe(2);
  });

  it('limits data to 4 KiB of serialized JSON (inclusive)', async () => {
    const { port } = backend;
    const fits = { x: 'a'.repeat(4096 - 8) };
    await port.heartbeat('big', 'm', { ttl: MIN, data: fits });
    expect((await port.members('big')).members[0]?.data).toEqual(fits);
    await expect(port.heartbeat('big', 'm', { ttl: MIN, data: { x: 'a'.repeat(4096 - 7) } })).rejects.toBeInstanceOf(LimitExceededError);
    expect((await port.members('big')).members[0]?.data).toEqual(fits); // unchanged
  });

  it('validates names, ttl and limit before any backend call', async () => {
    const { port } = backend;
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(201), 'é']) {
      await expect(port.heartbeat(bad, 'm', { ttl: MIN })).rejects.toBeInstanceOf(ValidationError);
      await expect(port.heartbeat('c', bad, { ttl: MIN })).rejects.toBeInstanceOf(ValidationError);
      await expect(port.leave(bad, 'm')).rejects.toBeInstanceOf(ValidationError);
      await expect(port.count(bad)).rejects.toBeInstanceOf(ValidationError);
      await expect(port.members(bad)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(port.heartbeat('c', 'm', { ttl: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(port.heartbeat('c', 'm', { ttl: MIN, data: { n: Number.POSITIVE_INFINITY } })).rejects.toBeInstanceOf(ValidationError);
    await expect(port.members('c', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(port.members('c', { limit: 1.5 })).rejects.toBeInstanceOf(ValidationError);
    expect(await port.count('c')).toBe(0);
  });
});
