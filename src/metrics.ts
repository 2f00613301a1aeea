/**
 * The one Prometheus registry of the process. The HTTP layer, the adapters and
 * the cleanup worker all register into `registry`; GET /metrics renders it.
 *
 * Worker / adapter authors: create metrics with `registers: [registry]`, e.g.
 *   new Counter({ name: 'cacheport_cleanup_deleted_total', help: '...', registers: [registry] })
 * Metric names are global to the process: create each once (module scope).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { TalliedCounter } from './tallied-counter.js';
import { TalliedHistogram } from './tallied-histogram.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cacheport_' });

/** Counted once per request: tallied, see ./tallied-counter.ts. */
export const httpRequests = new TalliedCounter({
  name: 'cacheport_http_requests_total',
  help: 'HTTP requests by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

/** Observed once per request: tallied, see ./tallied-histogram.ts. */
export const httpDuration = new TalliedHistogram({
  name: 'cacheport_http_request_duration_seconds',
  help: 'HTTP request latency by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

/** Counted on every entry read: tallied, see ./tallied-counter.ts. */
export const cacheLookups = new TalliedCounter({
  name: 'cacheport_cache_lookups_total',
  help: 'Entry reads over HTTP by namespace (configured namespaces by name, all others as _other) and result (hit or miss)',
  labelNames: ['namespace', 'result'] as const,
  registers: [registry],
});

/** One entry read of namespace label `namespace` (./http/namespace-labels.ts), a hit or a miss. */
export function countLookup(namespace: string, hit: boolean): void {
  const result = hit ? 'hit' : 'miss';
  cacheLookups.add(`${namespace}\u0000${result}`, () => ({ namespace, result }));
}

export const backendErrors = new Counter({
  name: 'cacheport_backend_errors_total',
  help: 'Backend failures seen by the HTTP layer, by kind (unavailable or timeout)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/** Backend usage, read from the port at scrape time (CachePort.usage()). */
export const backendInFlight = new Gauge({
  name: 'cacheport_backend_calls_in_flight',
  help: 'Backend calls started and not yet finished',
  labelNames: ['backend'] as const,
  registers: [registry],
});

export const backendPoolSize = new Gauge({
  name: 'cacheport_backend_pool_size',
  help: 'Connections the adapter may open (Postgres pool size; 1 for Redis, one multiplexed connection)',
  labelNames: ['backend'] as const,
  registers: [registry],
});

/** Counted on every local hit: tallied, see ./tallied-counter.ts. */
export const localCacheHits = new TalliedCounter({
  name: 'cacheport_local_cache_hits_total',
  help: "Entry reads answered from this process's local cache (namespaces with localCache), by namespace (configured by name, others as _other)",
  labelNames: ['namespace'] as const,
  registers: [registry],
});

export const localCacheEvictions = new Counter({
  name: 'cacheport_local_cache_evictions_total',
  help: "Entries this process's local caches dropped to stay within localCache.maxEntries / CACHE_LOCAL_CACHE_MAX_BYTES, by namespace",
  labelNames: ['namespace'] as const,
  registers: [registry],
});

export const sseStreamsOpen = new Gauge({
  name: 'cacheport_sse_streams',
  help: 'Open Server-Sent-Events streams (channel subscriptions and change streams)',
  registers: [registry],
});

export const sseDisconnects = new Counter({
  name: 'cacheport_sse_disconnects_total',
  help: 'Event streams the server cut, by reason (slow: the subscriber let its outbox fill up)',
  labelNames: ['reason'] as const,
  registers: [registry],
});
