import type { CachePort } from '../../src/core/port.js';
import type { Operation } from './closed-loop.js';
import type { Workload } from './workload.js';

/** The CachePort operations every backend is measured on. */
export const PORT_OPS = ['get', 'set', 'getMany', 'setMany', 'increment', 'rateLimit', 'lock'] as const;
export type PortOpName = (typeof PORT_OPS)[number];

export const PORT_OP_LABELS: Record<PortOpName, string> = {
  get: 'get',
  set: 'set',
  getMany: 'getMany(64)',
  setMany: 'setMany(64)',
  increment: 'increment',
  rateLimit: 'rate-limit',
  lock: 'lock acquire+release',
};

/** Entries are written with the same ttl by the adapters and the baselines. */
export const BENCH_TTL_MS = 60 * 60 * 1000;

/** Generous enough that calls are mostly allowed, small enough to keep state small. */
const RATE_LIMIT = { limit: 1000, windowMs: 1000 } as const;
const LOCK_TTL_MS = 10_000;

/** Operations whose result depends on the pre-populated keys. */
export const READ_OPS: ReadonlySet<PortOpName> = new Set(['get', 'getMany']);

export function portOperation(port: CachePort, name: PortOpName, ns: string, w: Workload, batchSize: number): Operation {
  switch (name) {
    case 'get':
      return () => port.get(ns, w.randomKey());
    case 'set':
      return () => port.set(ns, w.randomKey(), w.value, { ttl: BENCH_TTL_MS });
    case 'getMany':
      return () => port.getMany(ns, w.randomKeys(batchSize));
    case 'setMany':
      return () =>
        port.setMany(
          ns,
          w.randomKeys(batchSize).map((key) => ({ key, value: w.value, ttl: BENCH_TTL_MS })),
        );
    case 'increment':
      return () => port.increment(ns, w.randomCounterKey(), 1);
    case 'rateLimit':
      return () => port.rateLimit(w.randomRateLimitKey(), RATE_LIMIT);
    case 'lock':
      // One op = acquire and, when granted, release: what a critical section costs.
      return async () => {
        const name = w.randomLockName();
        const lease = await port.acquire(name, { ttl: LOCK_TTL_MS });
        if (lease !== null) await port.release(name, lease.token);
      };
  }
}
