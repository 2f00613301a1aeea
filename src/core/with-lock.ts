/**
 * withLock: run `fn` while holding a lease, for library users.
 *
 *   await withLock(port, 'nightly-report', 30_000, async (signal, lease) => {
 *     await writeReport({ fence: lease.fence, signal });
 *   });
 *
 * - Throws LockNotAcquiredError when someone else holds the lock.
 * - Extends the lease every ttl/3 while `fn` runs (one extend at a time).
 * - Aborts `signal` when the lease is lost: an extend finds another holder,
 *   or extends keep failing (backend unavailable) until the lease may have
 *   expired. `fn` should stop writing then; pass `lease.fence` to whatever it
 *   writes so a stale holder's late writes can be rejected.
 * - Releases afterwards, also when `fn` throws; a failed release is ignored
 *   (the lease expires by itself) so it never hides fn's own result or error.
 */
import { LockNotAcquiredError } from './errors.js';
import type { Lease, LockManager } from './port.js';

export class LeaseLostError extends Error {
  constructor(
    readonly lockName: string,
    reason: string,
  ) {
    super(`lost the lease on lock ${JSON.stringify(lockName)}: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

export async function withLock<T>(
  port: LockManager,
  name: string,
  ttl: number,
  fn: (signal: AbortSignal, lease: Lease) => Promise<T>,
): Promise<T> {
  // Measured before the call: the local deadline can only be earlier than the real expiry.
  let validUntil = Date.now() + ttl;
  const lease = await port.acquire(name, { ttl });
  if (!lease) throw new LockNotAcquiredError(name);

  const controller = new AbortController();
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const interval = Math.max(1, Math.floor(ttl / 3));

  const lose = (reason: string): void => {
    if (!controller.signal.aborted) controller.abort(new LeaseLostError(name, reason));
  };

  const renew = async (): Promise<void> => {
    if (finished) return;
    const started = Date.now();
    try {
      const extended = await port.extend(name, lease.token, ttl);
      if (!extended) return lose('another holder took it or it expired');
      validUntil = started + ttl;
    } catch (error) {
      // Backend trouble: keep trying while the lease may still be ours.
      if (Date.now() >= validUntil) return lose(`could not extend before expiry (${(error as Error).message})`);
    }
    if (finished) return;
    // Never sleep past the point where the lease may have expired.
    const delay = Math.min(interval, Math.max(1, validUntil - Date.now() - 1));
    schedule(delay);
  };

  const schedule = (delay: number): void => {
    timer = setTimeout(() => void renew(), delay);
  };

  schedule(interval);
  try {
    return await fn(controller.signal, lease);
  } finally {
    finished = true;
    clearTimeout(timer);
    try {
      await port.release(name, lease.token);
    } catch {
      // The lease expires on its own; fn's outcome matters more.
    }
  }
}
