/**
 * Rate limits, locks, sessions and presence through the HTTP adapter, on a
 * real server over each backend: the same answers as the port underneath,
 * including the values the server routes encode (fences, ISO timestamps,
 * 409/429/404 meanings).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { BACKENDS } from '../support/backends.js';
import { startHttpBackend, type HttpTestBackend } from '../support/http-backend.js';
import { expectThrown } from '../contract/context.js';

describe.each(BACKENDS)('HTTP adapter coordination over $name', (factory) => {
  let backend: HttpTestBackend;
  beforeAll(async () => {
    backend = await startHttpBackend(factory);
  });
  afterAll(async () => {
    await backend?.cleanup();
  });

  it('rate limit: exactly `limit` of parallel calls are allowed; a denied call consumes nothing and says when to retry', async () => {
    const { port } = backend;
    const results = await Promise.all(
      Array.from({ length: 12 }, () => port.rateLimit('rl:parallel', { limit: 5, windowMs: 60_000, algorithm: 'fixed-window' })),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    const denied = results.find((r) => !r.allowed);
    expect(denied).toMatchObject({ allowed: false, limit: 5, remaining: 0 });
    expect(denied?.retryAfterMs).toBeGreaterThan(0);
    expect(await port.rateLimit('rl:parallel', { limit: 5, windowMs: 60_000, algorithm: 'fixed-window', cost: 0 })).toMatchObject({
      allowed: true,
      remaining: 0,
    });
    await expectThrown(() => port.rateLimit('rl:x', { limit: 2, windowMs: 1000, cost: 3 }), ValidationError);
  });

  it('locks: acquire, held elsewhere → null, extend, wrong token, release, not held; fences increase', async () => {
    const { port } = backend;
    const first = await port.acquire('app:job', { ttl: 30_000 });
    expect(first).not.toBeNull();
    expect(first?.expiresAt).toBeGreaterThan(Date.now());
    expect(await port.acquire('app:job', { ttl: 30_000 })).toBeNull();
    expect(await port.inspectLock('app:job')).toMatchObject({ held: true, fence: first?.fence });
    const extended = await port.extend('app:job', first?.token as string, 60_000);
    expect(extended?.fence).toBe(first?.fence);
    expect(extended?.expiresAt).toBeGreaterThan(first?.expiresAt as number);
    expect(await port.extend('app:job', 'not-the-token', 60_000)).toBeNull();
    expect(await port.release('app:job', 'not-the-token')).toBe('wrong_token');
    expect(await port.release('app:job', first?.token as string)).toBe('released');
    expect(await port.release('app:job', first?.token as string)).toBe('not_held');
    expect(await port.inspectLock('app:job')).toEqual({ held: false, expiresAt: null, fence: first?.fence });
    const second = await port.acquire('app:job', { ttl: 1000 });
    expect(second?.fence).toBeGreaterThan(first?.fence as number);
    expect(await port.inspectLock('app:never')).toEqual({ held: false, expiresAt: null, fence: null });
  });

  it('sessions: create, read (slides), subject without sliding, update, revoke one, revoke a subject', async () => {
    const { port } = backend;
    const created = await port.createSession({ subject: 'app:alice', data: { role: 'admin' }, ttl: 60_000, maxAge: 3_600_000 });
    expect(created.subject).toBe('app:alice');
    expect(created.createdAt).toBeLessThanOrEqual(created.expiresAt);
    const read = await port.getSession(created.id);
    expect(read).toMatchObject({ subject: 'app:alice', data: { role: 'admin' }, createdAt: created.createdAt });
    expect(await port.sessionSubject(created.id)).toBe('app:alice');
    expect(await port.updateSession(created.id, { role: 'viewer' })).toBe(true);
    expect((await port.getSession(created.id))?.data).toEqual({ role: 'viewer' });
    expect(await port.revokeSession(created.id)).toBe(true);
    expect(await port.revokeSession(created.id)).toBe(false);
    expect(await port.getSession(created.id)).toBeUndefined();
    expect(await port.sessionSubject(created.id)).toBeUndefined();
    expect(await port.updateSession(created.id, {})).toBe(false);
    expect(await port.getSession('not-a-session-id')).toBeUndefined();
    for (let i = 0; i < 3; i++) await port.createSession({ subject: 'app:bob', ttl: 60_000, maxAge: 60_000 });
    expect(await port.revokeSubject('app:bob')).toBe(3);
    expect(await port.revokeSubject('app:bob')).toBe(0);
  });

  it('presence: heartbeat, members with data and expiry, count, leave', async () => {
    const { port } = backend;
    await port.heartbeat('room:1', 'alice', { ttl: 60_000, data: { status: 'here' } });
    await port.heartbeat('room:1', 'bob', { ttl: 60_000 });
    const list = await port.members('room:1');
    expect(list.count).toBe(2);
    expect(list.members.map((m) => [m.member, m.data])).toEqual([
      ['alice', { status: 'here' }],
      ['bob', null],
    ]);
    expect(list.members[0]?.expiresAt).toBeGreaterThan(Date.now());
    expect((await port.members('room:1', { limit: 1 })).members).toHaveLength(1);
    expect(await port.count('room:1')).toBe(2);
    expect(await port.leave('room:1', 'alice')).toBe(true);
    expect(await port.leave('room:1', 'alice')).toBe(false);
    expect(await port.count('room:1')).toBe(1);
    await expectThrown(() => port.heartbeat('room:1', 'carol', { ttl: 60_000, data: 'a string' }), ValidationError);
  });

  it('ping measures a round trip to the ready server', async () => {
    expect(await backend.port.ping()).toBeGreaterThanOrEqual(0);
    expect(backend.port.backend).toBe('http');
  });

  it('lock, channel and presence names "." and ".." (which no URL path carries) are a ValidationError naming the field', async () => {
    const { port } = backend;
    for (const name of ['.', '..']) {
      const calls: [string, () => Promise<unknown>][] = [
        ['name', () => port.acquire(name, { ttl: 1000 })],
        ['name', () => port.inspectLock(name)],
        ['channel', () => port.publish(name, 1)],
        ['channel', () => port.subscribe(name, () => {})],
        ['channel', () => port.heartbeat(name, 'm', { ttl: 1000 })],
        ['member', () => port.heartbeat('room', name, { ttl: 1000 })],
        ['member', () => port.leave('room', name)],
      ];
      for (const [field, call] of calls) {
        const error = await expectThrown(call, ValidationError);
        expect(error.invalidParams[0]?.name, `${field} ${name}`).toBe(field);
      }
    }
    // Names that merely contain dots are fine.
    expect(await port.acquire('...', { ttl: 1000 })).not.toBeNull();
  });
});
