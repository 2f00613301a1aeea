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

/** What a coalescing backend has counted so far per operation: calls merged by its coalescer and statements sent. */
export type CoalescingCounts = Record<'get' | 'set', { calls: number; batches: number }>;
export type CoalescingSource = () => CoalescingCounts;

const COALESCED_OPS = ['get', 'set'] as const;
/** Each registered source: the counts already added to the counters (counters only go up: deltas are added), and how many registered it. */
const coalescingSources = new Map<CoalescingSource, { seen: CoalescingCounts; holders: number }>();
/** What was added for a source, kept after it was taken back: registered again (a new server over the same port), it resumes from there. */
const seenBefore = new WeakMap<CoalescingSource, CoalescingCounts>();

/** Adds what `field` of every source counted since the last read to `counter`. */
function addCoalescingDeltas(counter: Counter<'op'>, field: 'calls' | 'batches'): void {
  for (const [source, { seen }] of coalescingSources) addDeltas(counter, field, source(), seen);
}

function addDeltas(counter: Counter<'op'>, field: 'calls' | 'batches', now: CoalescingCounts, seen: CoalescingCounts): void {
  for (const op of COALESCED_OPS) {
    counter.inc({ op }, Math.max(0, now[op][field] - seen[op][field]));
    seen[op][field] = now[op][field];
  }
}

/** Read from the registered sources at scrape time (addCoalescingSource); no source (Redis), no series. */
export const coalescedRequests = new Counter({
  name: 'cacheport_coalesced_requests_total',
  help: "Backend calls that went through this process's request coalescer (Postgres: single-key gets and unconditional sets), by op",
  labelNames: ['op'] as const,
  registers: [registry],
  collect() {
    addCoalescingDeltas(this, 'calls');
  },
});

export const coalescedStatements = new Counter({
  name: 'cacheport_coalesced_statements_total',
  help: "Statements this process's request coalescer sent for those calls, by op (requests ÷ statements = keys per statement)",
  labelNames: ['op'] as const,
  registers: [registry],
  collect() {
    addCoalescingDeltas(this, 'batches');
  },
});

/**
 * Lets the coalescing counters read `source` (the composition root passes the
 * Postgres port's); the returned function takes it back, keeping what it
 * counted until then. Several sources are summed (tests start several servers
 * in one process); one source registered twice (two servers over one port)
 * is read once.
 */
export function addCoalescingSource(source: CoalescingSource): () => void {
  const registered = coalescingSources.get(source);
  if (registered !== undefined) registered.holders += 1;
  else {
    const zero = (): CoalescingCounts => ({ get: { calls: 0, batches: 0 }, set: { calls: 0, batches: 0 } });
    const seen = seenBefore.get(source) ?? zero();
    seenBefore.set(source, seen);
    coalescingSources.set(source, { seen, holders: 1 });
    // The series exist (at 0) from the start, so a scrape before the first call shows them (adds nothing).
    addDeltas(coalescedRequests, 'calls', seen, seen);
    addDeltas(coalescedStatements, 'batches', seen, seen);
  }
  let removed = false;
  return () => {
    const entry = coalescingSources.get(source);
    if (removed || entry === undefined) return;
    removed = true;
    entry.holders -= 1;
    if (entry.holders > 0) return;
    coalescingSources.delete(source);
    const last = source();
    addDeltas(coalescedRequests, 'calls', last, entry.seen);
    addDeltas(coalescedStatements, 'batches', last, entry.seen);
  };
}

/**
 * In a cluster worker (WEB_CONCURRENCY > 1): every series this process
 * renders carries worker="<n>", so scrapes answered by different workers
 * (each answers only its own figures) are told apart.
 */
export function labelWorker(id: number): void {
  registry.setDefaultLabels({ worker: String(id) });
}
