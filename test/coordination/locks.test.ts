/**
 * Locks as leases on every backend: one holder under contention, token
 * checks, expiry takeover with a higher fence, fences that never repeat
 * across port instances, and inspectLock never revealing the token.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import type { CachePort, Lease } from '../../src/core/port.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { BACKENDS, type BackendName, useBackend } from '../support/backends.js';
import { PG_URL, REDIS_URL } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
const freshName = (label: string) => `lock.${label}:${Date.now()}-${counter++}`;

/** A second, independent port on the same storage (as after an app restart). */
function anotherPort(backend: BackendName, scope: string): CachePort {
  if (backend === 'postgres') {
    return createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, url: PG_URL, schema: scope, poolMax: 2 });
  }
  return createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url: REDIS_URL, prefix: scope });
}

describe.each(BACKENDS)('locks on $name', (factory) => {
  const backend = useBackend(factory);

  it('grants exactly one of 50 concurrent acquires', async () => {
    const name = freshName('contended');
    const leases = await Promise.all(Array.from({ length: 50 }, () => backend.port.acquire(name, { ttl: 30_000 })));
    const granted = leases.filter((l): l is Lease => l !== null);
    expect(granted).toHaveLength(1);
    const lease = granted[0] as Lease;
    expect(lease.token).toMatch(/^[A-Za-z0-9_-]{22,}$/); // ≥ 128 bits of base64url
    expect(Number.isSafeInteger(lease.fence)).toBe(true);
    expect(lease.fence).toBeGreaterThan(0);
    expect(lease.expiresAt).toBeGreaterThan(Date.now() + 20_000);
    expect(lease.expiresAt).toBeLessThan(Date.now() + 40_000);
  });

  it('rejects extend and release with a wrong token, and keeps the lease', async () => {
    const name = freshName('wrong-token');
    const lease = (await backend.port.acquire(name, { ttl: 30_000 })) as Lease;
    expect(lease).not.toBeNull();
    expect(await backend.port.extend(name, `${lease.token}x`, 60_000)).toBeNull();
    expect(await backend.port.release(name, 'not-the-token')).toBe('wrong_token');
    expect(await backend.port.acquire(name, { ttl: 30_000 })).toBeNull();
    expect(await backend.port.inspectLock(name)).toEqual({ held: true, expiresAt: lease.expiresAt, fence: lease.fence });

    const extended = await backend.port.extend(name, lease.token, 60_000);
    expect(extended).toMatchObject({ token: lease.token, fence: lease.fence });
    expect((extended as Lease).expiresAt).toBeGreaterThan(lease.expiresAt);
    expect(await backend.port.release(name, lease.token)).toBe('released');
    expect(await backend.port.release(name, lease.token)).toBe('not_held');
    expect(await backend.port.extend(name, lease.token, 1000)).toBeNull();
    expect(await backend.port.inspectLock(name)).toEqual({ held: false, expiresAt: null, fence: lease.fence });
  });

  it('reports a never-acquired lock as not held with no fence', async () => {
    const name = freshName('never');
    expect(await backend.port.inspectLock(name)).toEqual({ held: false, expiresAt: null, fence: null });
    expect(await backend.port.release(name, 'anything')).toBe('not_held');
  });

  it('lets the next caller take an expired lease, with a higher fence', async () => {
    const name = freshName('expiry');
    const first = (await backend.port.acquire(name, { ttl: 200 })) as Lease;
    expect(first).not.toBeNull();
    await sleep(400);
    expect(await backend.port.inspectLock(name)).toEqual({ held: false, expiresAt: null, fence: first.fence });
    const second = (await backend.port.acquire(name, { ttl: 30_000 })) as Lease;
    expect(second).not.toBeNull();
    expect(second.fence).toBeGreaterThan(first.fence);
    expect(second.token).not.toBe(first.token);
    // The old holder can no longer act on the lock.
    expect(await backend.port.extend(name, first.token, 30_000)).toBeNull();
    expect(await backend.port.release(name, first.token)).toBe('wrong_token');
    expect((await backend.port.inspectLock(name)).held).toBe(true);
  });

  it('issues strictly increasing fences per name, also from a new port instance', async () => {
    const name = freshName('fences');
    const fences: number[] = [];
    for (let i = 0; i < 3; i++) {
      const lease = (await backend.port.acquire(name, { ttl: 10_000 })) as Lease;
      fences.push(lease.fence);
      expect(await backend.port.release(name, lease.token)).toBe('released');
    }
    const other = anotherPort(factory.name, backend.scope);
    try {
      for (let i = 0; i < 2; i++) {
        const lease = (await other.acquire(name, { ttl: 10_000 })) as Lease;
        fences.push(lease.fence);
        expect(await other.release(name, lease.token)).toBe('released');
      }
      expect((await other.inspectLock(name)).fence).toBe(fences.at(-1));
    } finally {
      await other.close();
    }
    for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1] as number);
    // Another name has its own sequence.
    const unrelated = (await backend.port.acquire(freshName('fences-other'), { ttl: 1000 })) as Lease;
    expect(unrelated.fence).toBe(1);
  });

  it('never reveals the token in inspectLock', async () => {
    const name = freshName('secret');
    const lease = (await backend.port.acquire(name, { ttl: 30_000 })) as Lease;
    const state = await backend.port.inspectLock(name);
    expect(Object.keys(state).sort()).toEqual(['expiresAt', 'fence', 'held']);
    expect(JSON.stringify(state)).not.toContain(lease.token);
  });

  it('validates names, ttls and tokens before calling the backend', async () => {
    for (const name of ['', 'has space', 'x'.repeat(201), 'slash/name', 'ünïcode']) {
      await expect(backend.port.acquire(name, { ttl: 1000 })).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.port.inspectLock(name)).rejects.toBeInstanceOf(ValidationError);
    }
    const name = freshName('valid');
    for (const ttl of [0, -1, 1.5, 366 * 86_400_000]) {
      await expect(backend.port.acquire(name, { ttl })).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(backend.port.release(name, '')).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.port.extend(name, 'token', 0)).rejects.toBeInstanceOf(ValidationError);
    expect(await backend.port.inspectLock(name)).toEqual({ held: false, expiresAt: null, fence: null });
    expect(await backend.port.acquire('A-z_0.9:ok', { ttl: 1000 })).not.toBeNull();
  });
});
