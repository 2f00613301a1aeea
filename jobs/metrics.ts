/**
 * Cleanup worker metrics, registered once (module scope) into the process
 * registry: GET /metrics shows them when the worker runs inline; a separate
 * worker process logs the same numbers instead.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../src/metrics.js';

export const JOB_NAMES = ['ttl-cleanup', 'lru-eviction', 'channel-retention'] as const;
export type JobName = (typeof JOB_NAMES)[number];

export const rowsExpired = new Counter({
  name: 'cacheport_cleanup_rows_expired_total',
  help: 'Expired rows deleted by TTL cleanup, by table',
  labelNames: ['table'] as const,
  registers: [registry],
});

export const rowsEvicted = new Counter({
  name: 'cacheport_eviction_rows_evicted_total',
  help: 'Live entries evicted to keep a namespace within maxEntries/maxBytes, by namespace',
  labelNames: ['namespace'] as const,
  registers: [registry],
});

export const channelMessagesTrimmed = new Counter({
  name: 'cacheport_channel_messages_trimmed_total',
  help: 'Pub/sub messages deleted by the channel-retention job (past CHANNEL_RETENTION or beyond 10,000 per channel)',
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: 'cacheport_worker_job_duration_seconds',
  help: 'Duration of cleanup worker jobs, by job',
  labelNames: ['job'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});

export const jobFailures = new Counter({
  name: 'cacheport_worker_job_failures_total',
  help: 'Cleanup worker jobs that threw (pg-boss retries them), by job',
  labelNames: ['job'] as const,
  registers: [registry],
});

export const expiredPending = new Gauge({
  name: 'cacheport_cleanup_expired_pending_rows',
  help: 'Rows past their expiry not yet deleted (capped at 1,000,000), by table; measured after each cleanup run',
  labelNames: ['table'] as const,
  registers: [registry],
});

export const oldestExpiredAge = new Gauge({
  name: 'cacheport_cleanup_oldest_expired_age_seconds',
  help: 'Seconds since the oldest not-yet-deleted expired row expired (0 when none), by table',
  labelNames: ['table'] as const,
  registers: [registry],
});

export const deadTuples = new Gauge({
  name: 'cacheport_table_dead_tuples',
  help: 'Dead tuples awaiting vacuum (pg_stat_user_tables.n_dead_tup), by table',
  labelNames: ['table'] as const,
  registers: [registry],
});

// Zero series exist from the start, so rate() and alerts see the jobs before their first failure.
for (const job of JOB_NAMES) jobFailures.inc({ job }, 0);
