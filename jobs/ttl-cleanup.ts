/**
 * The ttl-cleanup job: the Postgres adapter's deleteExpiredRows with the
 * worker's defaults, counting deleted rows into the metrics.
 */
import type { Sql } from '../src/adapters/postgres/connection.js';
import { DEFAULT_CLEANUP_BATCH_SIZE, DEFAULT_CLEANUP_PAUSE_MS } from '../src/config.js';
import { deleteExpiredRows, type BatchedRunOptions, type ExpiredCleanupResult } from '../src/adapters/postgres/maintenance.js';
import { rowsExpired } from './metrics.js';

export type TtlCleanupOptions = Partial<BatchedRunOptions>;
export type TtlCleanupResult = ExpiredCleanupResult;

/** CLEANUP_BATCH_SIZE / CLEANUP_PAUSE_MS defaults (src/config.ts), also for callers without a Config. */
export const DEFAULT_CLEANUP_BATCH = DEFAULT_CLEANUP_BATCH_SIZE;
export const DEFAULT_CLEANUP_PAUSE = DEFAULT_CLEANUP_PAUSE_MS;
export const DEFAULT_CLEANUP_BUDGET_MS = 30_000;

export function runTtlCleanup(sql: Sql, options: TtlCleanupOptions = {}): Promise<TtlCleanupResult> {
  return deleteExpiredRows(sql, {
    batchSize: options.batchSize ?? DEFAULT_CLEANUP_BATCH,
    pauseMs: options.pauseMs ?? DEFAULT_CLEANUP_PAUSE,
    timeBudgetMs: options.timeBudgetMs ?? DEFAULT_CLEANUP_BUDGET_MS,
    signal: options.signal,
    onDeleted: (table, count) => rowsExpired.inc({ table }, count),
  });
}
