/**
 * The ttl-cleanup job: the Postgres adapter's deleteExpiredRows with the
 * worker's defaults, counting deleted rows into the metrics.
 */
import type { Sql } from '../src/adapters/postgres/connection.js';
import { deleteExpiredRows, type BatchedRunOptions, type ExpiredCleanupResult } from '../src/adapters/postgres/maintenance.js';
import { rowsExpired } from './metrics.js';

export type TtlCleanupOptions = Partial<BatchedRunOptions>;
export type TtlCleanupResult = ExpiredCleanupResult;

export const DEFAULT_CLEANUP_BATCH = 5000;
export const DEFAULT_CLEANUP_BUDGET_MS = 30_000;

export function runTtlCleanup(sql: Sql, options: TtlCleanupOptions = {}): Promise<TtlCleanupResult> {
  return deleteExpiredRows(sql, {
    batchSize: options.batchSize ?? DEFAULT_CLEANUP_BATCH,
    timeBudgetMs: options.timeBudgetMs ?? DEFAULT_CLEANUP_BUDGET_MS,
    signal: options.signal,
    onDeleted: (table, count) => rowsExpired.inc({ table }, count),
  });
}
