/** withLock on every backend: holds, extends, releases, and aborts when the lease is lost. */
import { describe, expect, it } from 'vitest';
import { LockNotAcquiredError } from '../../src/core/errors.js';
import { LeaseLostError, withLock } from '../../src/core/with-lock.js';
import { BACKENDS, useBackend, redisFactory } from '../support/backends.js';
import { httpFactory } from '../support/http-backend.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
const freshName = (label: string) => `withlock.${label}.${Date.now()}-${counter++}`;

// The HTTP adapter too, in front of a server over Redis (the server's answers are the port's, whatever the backend).
describe.each([...BACKENDS, httpFactory(redisFactory)])('withLock on $name', (factory) => {
  const backend = useBackend(factory);

  it('runs fn holding the lock and releases it afterwards', async () => {
    const name = freshName('basic');
    const result = await withLock(backend.port, name, 10_000, async (signal, lease) => {
      expect(signal.aborted).toBe(false);
      expect((await backend.port.inspectLock(name)).held).toBe(true);
      expect(await backend.port.acquire(name, { ttl: 1000 })).toBeNull();
      return lease.fence;
    });
    expect(result).toBeGreaterThan(0);
    expect(await backend.port.inspectLock(name)).toMatchObject({ held: false, fence: result });
  });

  it('throws LockNotAcquiredError while someone else holds the lock, without calling fn', async () => {
    const name = freshName('held');
    const holder = await backend.port.acquire(name, { ttl: 10_000 });
    expect(holder).not.toBeNull();
    let called = false;
    await expect(
      withLock(backend.port, name, 1000, async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(LockNotAcquiredError);
    expect(called).toBe(false);
    expect((await backend.port.inspectLock(name)).fence).toBe(holder?.fence);
  });

  it('releases the lock when fn throws, and rethrows its error', async () => {
    const name = freshName('throws');
    const boom = new Error('boom');
    await expect(
      withLock(backend.port, name, 10_000, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await backend.port.inspectLock(name)).held).toBe(false);
  });

  it('extends the lease while fn runs longer than the ttl', async () => {
    const name = freshName('extends');
    // ttl 600 ms, extended every 200 ms; fn runs for 3 ttls.
    const fence = await withLock(backend.port, name, 600, async (signal, lease) => {
      await sleep(1800);
      expect(signal.aborted).toBe(false);
      const state = await backend.port.inspectLock(name);
      expect(state).toMatchObject({ held: true, fence: lease.fence });
      expect(state.expiresAt).toBeGreaterThan(lease.expiresAt);
      return lease.fence;
    });
    expect(await backend.port.inspectLock(name)).toMatchObject({ held: false, fence });
  });

  it('aborts the signal when the lease is lost to another holder', async () => {
    const name = freshName('lost');
    const reason = await withLock(backend.port, name, 600, async (signal, lease) => {
      // Simulate losing the lease: it is released and someone else takes it.
      expect(await backend.port.release(name, lease.token)).toBe('released');
      expect(await backend.port.acquire(name, { ttl: 10_000 })).not.toBeNull();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('signal was not aborted')), 10_000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return signal.reason as unknown;
    });
    expect(reason).toBeInstanceOf(LeaseLostError);
    // withLock's own release must not free the new holder's lease.
    expect((await backend.port.inspectLock(name)).held).toBe(true);
  });
});
