/**
 * The lru-eviction job (Postgres): the adapter's evictOverBounds with the
 * worker's defaults, counting evicted entries into the metrics.
 */
import type { Sql } from '../src/adapters/postgres/connection.js';
import { DEFAULT_CLEANUP_BATCH_SIZE, DEFAULT_CLEANUP_PAUSE_MS } from '../src/config.js';
import { evictOverBounds, type BatchedRunOptions, type EvictionResult } from '../src/adapters/postgres/maintenance.js';
import { rowsEvicted } from './metrics.js';

export type LruEvictionOptions = Partial<BatchedRunOptions>;
export type LruEvictionResult = EvictionResult;

/** CLEANUP_BATCH_SIZE / CLEANUP_PAUSE_MS defaults (src/config.ts), also for callers without a Config. */
export const DEFAULT_EVICTION_BATCH = DEFAULT_CLEANUP_BATCH_SIZE;
export const DEFAULT_EVICTION_PAUSE_MS = DEFAULT_CLEANUP_PAUSE_MS;
export const DEFAULT_EVICTION_BUDGET_MS = 30_000;

export function runLruEviction(sql: Sql, options: LruEvictionOptions = {}): Promise<LruEvictionResult> {
  return evictOverBounds(sql, {
    batchSize: options.batchSize ?? DEFAULT_EVICTION_BATCH,
    pauseMs: options.pauseMs ?? DEFAULT_EVICTION_PAUSE_MS,
    timeBudgetMs: options.timeBudgetMs ?? DEFAULT_EVICTION_BUDGET_MS,
    signal: options.signal,
    onEvicted: (namespace, count) => rowsEvicted.inc({ namespace }, count),
  });
}
