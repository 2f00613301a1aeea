/**
 * getOrSet: a hit returns at once; a miss runs the factory once per key at a
 * time across every process sharing the backend. In one process, concurrent
 * callers of a key share one flight. Across processes, the flight holds a
 * short lease on the key (the port's lock manager, extended while the factory
 * runs); the others wait, woken by the change feed when the value is written
 * (and by a poll no faster than every 50 ms), and take the lease over when
 * its holder died and it lapsed.
 */
import { createHash } from 'node:crypto';
import { LockNotAcquiredError } from '../core/errors.js';
import { validateKey } from '../core/validation.js';
import { withLock } from '../core/with-lock.js';
import { GetOrSetTimeoutError } from './errors.js';
import { resolveTimeouts, toMs, toTtlMs, validateWriteTags, type Timeouts } from './options.js';
import { isUnavailable, type CacheStore, type Found, type WriteSpec } from './store.js';
import type { Duration, Factory, FactoryContext, GetOrSetOptions } from './types.js';

/** Short: a dead holder's lease lapses this soon; a live holder extends it every third of it. */
export const FLIGHT_LEASE_MS = 2000;
/** Waiters re-check this often when the feed is live (it wakes them sooner), and when it is not. */
const POLL_WITH_FEED_MS = 250;
const POLL_WITHOUT_FEED_MS = 50;

export function flightLockName(ns: string, key: string): string {
  return `cp-flight:${ns}:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`;
}

export class GetOrSet {
  private readonly flights = new Map<string, Promise<unknown>>();
  private readonly refreshing = new Set<string>();

  constructor(private readonly store: CacheStore) {}

  async run<T>(key: string, factory: Factory<T>, options: GetOrSetOptions = {}): Promise<T> {
    validateKey(key);
    if (typeof factory !== 'function') throw new TypeError('getOrSet needs a factory function');
    const timeouts = resolveTimeouts(options.timeouts, this.store.settings.timeouts, 'timeouts');
    // Checked now, not when the result is written: a bad option must not cost a factory run (and its side effects).
    toTtlMs(options.ttl, 'ttl');
    if (options.grace !== undefined) toMs(options.grace, 'grace', true);
    validateWriteTags(options.tags);
    let found: Found | undefined;
    try {
      found = await this.store.read(key);
    } catch (error) {
      return this.serveFallback(key, error) as T;
    }
    if (found !== undefined && !found.stale) return found.value as T;
    if (found !== undefined) {
      this.store.stats.staleServed++;
      const refresh = this.refreshInBackground(key, factory, options, timeouts);
      if (timeouts.softMs > 0) {
        const fresh = await Promise.race([refresh, sleep(timeouts.softMs).then(() => undefined)]);
        if (fresh !== undefined) return fresh.value as T;
      }
      return found.value as T;
    }
    let flight = this.flights.get(key) as Promise<T> | undefined;
    if (flight === undefined) {
      flight = this.fly(key, factory, options, timeouts).finally(() => this.flights.delete(key));
      this.flights.set(key, flight);
    }
    return flight;
  }

  /** The backend failed: a local value within grace, else the error. */
  private serveFallback(key: string, error: unknown): unknown {
    const fallback = isUnavailable(error) ? this.store.fallback(key) : undefined;
    if (fallback === undefined) throw error;
    this.store.stats.staleServed++;
    return fallback.value;
  }

  private async fly<T>(key: string, factory: Factory<T>, options: WriteSpec, timeouts: Timeouts): Promise<T> {
    const deadline = Date.now() + timeouts.hardMs;
    const lockName = flightLockName(this.store.ns, key);
    let waited = false;
    for (;;) {
      let started = false;
      try {
        return await withLock(this.store.port, lockName, FLIGHT_LEASE_MS, async (leaseLost) => {
          started = true;
          // Someone may have written it between our miss and our lease.
          const again = await this.store.readBackend(key, false);
          if (again !== undefined && !again.stale) return again.value as T;
          return this.compute(key, factory, options, deadline, leaseLost, again);
        });
      } catch (error) {
        if (started || !(error instanceof LockNotAcquiredError)) {
          if (!started && isUnavailable(error)) return this.serveFallback(key, error) as T;
          throw error;
        }
      }
      if (!waited) {
        waited = true;
        this.store.stats.singleFlightWaits++;
      }
      const found = await this.waitForValue(key, deadline);
      if (found !== undefined) return found.value as T;
      if (Date.now() >= deadline) throw new GetOrSetTimeoutError(key, timeouts.hardMs);
    }
  }

  /** Waits for the lease holder's value (or the next chance to take the lease over). */
  private async waitForValue(key: string, deadline: number): Promise<Found | undefined> {
    const coherence = this.store.coherence;
    await coherence.ensure();
    const poll = coherence.isLive() ? POLL_WITH_FEED_MS : POLL_WITHOUT_FEED_MS;
    await coherence.waitForChange(key, Math.min(poll, deadline - Date.now()));
    const found = await this.store.readBackend(key, false);
    return found !== undefined && !found.stale ? found : undefined;
  }

  /**
   * Runs the factory (aborted at the deadline) and writes its result unless it skipped or the lease was lost
   * meanwhile: then another instance may already have written a newer value, which ours must not overwrite.
   * For the same reason the write holds only over what was read before the factory ran (`seen`: nothing, or
   * the stale entry): a `set` that completed meanwhile (no lease needed) wins over the factory's older result.
   */
  private async compute<T>(
    key: string,
    factory: Factory<T>,
    options: WriteSpec,
    deadline: number,
    leaseLost: AbortSignal,
    seen: Found | undefined,
  ): Promise<T> {
    const stats = this.store.stats;
    const controller = new AbortController();
    const timeoutMs = Math.max(0, deadline - Date.now());
    const timer = setTimeout(() => controller.abort(new GetOrSetTimeoutError(key, timeoutMs)), timeoutMs);
    let ttl: Duration | null | undefined = options.ttl;
    let tags = options.tags;
    let skipped = false;
    const context: FactoryContext = {
      signal: controller.signal,
      setTtl: (value) => {
        toTtlMs(value, 'setTtl');
        ttl = value;
      },
      setTags: (value) => {
        tags = value;
      },
      skip: () => {
        skipped = true;
      },
    };
    stats.factoryCalls++;
    let value: T;
    try {
      const aborted = new Promise<never>((_, reject) => {
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true });
      });
      value = await Promise.race([Promise.resolve().then(() => factory(context)), aborted]);
    } catch (error) {
      stats.factoryErrors++;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (skipped || leaseLost.aborted) return value;
    try {
      const condition = seen?.etag === undefined ? 'absent' : { etag: seen.etag };
      await this.store.write(key, value, { ttl, tags, grace: options.grace }, condition);
    } catch (error) {
      // The value was computed: the caller gets it even when it could not be stored.
      if (!isUnavailable(error)) throw error;
    }
    return value;
  }

  /** One refresh of a stale key across instances: only the lease holder refreshes; the rest keep serving stale. */
  private async refreshInBackground<T>(
    key: string,
    factory: Factory<T>,
    options: WriteSpec,
    timeouts: Timeouts,
  ): Promise<Found | undefined> {
    if (this.refreshing.has(key)) return undefined;
    this.refreshing.add(key);
    try {
      return await withLock(this.store.port, flightLockName(this.store.ns, key), FLIGHT_LEASE_MS, async (leaseLost) => {
        const again = await this.store.readBackend(key, false);
        if (again !== undefined && !again.stale) return again;
        const value = await this.compute(key, factory, options, Date.now() + timeouts.hardMs, leaseLost, again);
        return { value, stale: false, source: 'backend' } satisfies Found;
      });
    } catch {
      // Held elsewhere, factory failure or backend trouble: the stale value keeps being served.
      return undefined;
    } finally {
      this.refreshing.delete(key);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
