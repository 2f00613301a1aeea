/**
 * TTL cleanup: deletes expired rows of every cleanup table in bounded
 * batches, each its own short transaction, until none remain or the time
 * budget is spent (the next run picks up the rest).
 */
import type { Sql } from '../src/adapters/postgres/connection.js';
import { CLEANUP_TABLES, deleteExpiredBatch, type CleanupTable } from './sql.js';
import { rowsExpired } from './metrics.js';

export interface TtlCleanupOptions {
  /** Rows per DELETE statement. */
  batchSize?: number;
  /** Stop starting new batches after this long, in ms. */
  timeBudgetMs?: number;
  /** Aborted → stop after the current batch (worker shutdown). */
  signal?: AbortSignal;
}

export interface TtlCleanupResult {
  deleted: Record<CleanupTable, number>;
  total: number;
  durationMs: number;
  /** False when the budget ran out or the run was aborted with expired rows possibly left. */
  complete: boolean;
}

export const DEFAULT_CLEANUP_BATCH = 5000;
export const DEFAULT_CLEANUP_BUDGET_MS = 30_000;

export async function runTtlCleanup(sql: Sql, options: TtlCleanupOptions = {}): Promise<TtlCleanupResult> {
  const batchSize = options.batchSize ?? DEFAULT_CLEANUP_BATCH;
  const started = Date.now();
  const deadline = started + (options.timeBudgetMs ?? DEFAULT_CLEANUP_BUDGET_MS);
  const deleted = Object.fromEntries(CLEANUP_TABLES.map((table) => [table, 0])) as Record<CleanupTable, number>;
  let complete = true;

  for (const table of CLEANUP_TABLES) {
    for (;;) {
      if (options.signal?.aborted === true || Date.now() >= deadline) {
        complete = false;
        break;
      }
      const count = await deleteExpiredBatch(sql, table, batchSize);
      deleted[table] += count;
      rowsExpired.inc({ table }, count);
      // A short batch means the index had no more unlocked expired rows.
      if (count < batchSize) break;
    }
    if (!complete) break;
  }

  const total = Object.values(deleted).reduce((sum, n) => sum + n, 0);
  return { deleted, total, durationMs: Date.now() - started, complete };
}
