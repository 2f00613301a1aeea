/**
 * The one Prometheus registry of the process. The HTTP layer, the adapters and
 * the cleanup worker all register into `registry`; GET /metrics renders it.
 *
 * Worker / adapter authors: create metrics with `registers: [registry]`, e.g.
 *   new Counter({ name: 'cacheport_cleanup_deleted_total', help: '...', registers: [registry] })
 * Metric names are global to the process: create each once (module scope).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cacheport_' });

export const httpRequests = new Counter({
  name: 'cacheport_http_requests_total',
  help: 'HTTP requests by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'cacheport_http_request_duration_seconds',
  help: 'HTTP request latency by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const cacheLookups = new Counter({
  name: 'cacheport_cache_lookups_total',
  help: 'Entry reads over HTTP by namespace and result (hit or miss)',
  labelNames: ['namespace', 'result'] as const,
  registers: [registry],
});

export const backendErrors = new Counter({
  name: 'cacheport_backend_errors_total',
  help: 'Backend failures seen by the HTTP layer, by kind (unavailable or timeout)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/**
 * Connection pool usage. Adapters that can report it set these gauges
 * (labels: backend, state = total | idle | waiting).
 */
export const poolConnections = new Gauge({
  name: 'cacheport_pool_connections',
  help: 'Backend connection pool usage by state',
  labelNames: ['backend', 'state'] as const,
  registers: [registry],
});
