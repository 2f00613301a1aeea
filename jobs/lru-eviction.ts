/**
 * LRU eviction (Postgres): brings every namespace with eviction 'lru' and a
 * maxEntries/maxBytes bound back within it, least recently used first.
 * Namespaces with eviction 'none' are never listed, so their live entries
 * are never evicted.
 *
 * Each batch is one short transaction holding a transaction-scoped advisory
 * lock on the namespace: two workers never evict the same namespace at once
 * (which would overshoot), and a crashed worker leaves no lock behind.
 */
import type { Sql } from '../src/adapters/postgres/connection.js';
import {
  evictLruBatch,
  listBoundedNamespaces,
  namespaceUsage,
  tryLockNamespaceEviction,
  type BoundedNamespace,
} from './sql.js';
import { rowsEvicted } from './metrics.js';

export interface LruEvictionOptions {
  /** Rows per DELETE statement. */
  batchSize?: number;
  /** Stop starting new batches after this long, in ms. */
  timeBudgetMs?: number;
  signal?: AbortSignal;
}

export interface LruEvictionResult {
  /** Entries evicted, by namespace (only namespaces that lost entries). */
  evicted: Record<string, number>;
  total: number;
  /** Namespaces skipped because another worker held their eviction lock. */
  skipped: string[];
  durationMs: number;
  complete: boolean;
}

export const DEFAULT_EVICTION_BATCH = 5000;
export const DEFAULT_EVICTION_BUDGET_MS = 30_000;

type BatchOutcome = { kind: 'evicted'; count: number } | { kind: 'within-bounds' } | { kind: 'locked' };

async function evictOneBatch(sql: Sql, ns: BoundedNamespace, batchSize: number): Promise<BatchOutcome> {
  return sql.begin(async (tx) => {
    if (!(await tryLockNamespaceEviction(tx, ns.name))) return { kind: 'locked' } as const;
    const usage = await namespaceUsage(tx, ns.table, ns.name);
    const excessEntries = ns.maxEntries === null ? 0 : Math.max(0, usage.entries - ns.maxEntries);
    const excessBytes = ns.maxBytes === null ? 0 : Math.max(0, usage.bytes - ns.maxBytes);
    if (excessEntries === 0 && excessBytes === 0) return { kind: 'within-bounds' } as const;
    // Only a byte bound needs rows beyond excessEntries; don't lock more than needed.
    const limit = excessBytes > 0 ? batchSize : Math.min(batchSize, excessEntries);
    const count = await evictLruBatch(tx, ns.table, ns.name, excessEntries, excessBytes, limit);
    return { kind: 'evicted', count } as const;
  });
}

export async function runLruEviction(sql: Sql, options: LruEvictionOptions = {}): Promise<LruEvictionResult> {
  const batchSize = options.batchSize ?? DEFAULT_EVICTION_BATCH;
  const started = Date.now();
  const deadline = started + (options.timeBudgetMs ?? DEFAULT_EVICTION_BUDGET_MS);
  const evicted: Record<string, number> = {};
  const skipped: string[] = [];
  let complete = true;

  for (const ns of await listBoundedNamespaces(sql)) {
    for (;;) {
      if (options.signal?.aborted === true || Date.now() >= deadline) {
        complete = false;
        break;
      }
      const outcome = await evictOneBatch(sql, ns, batchSize);
      if (outcome.kind === 'locked') {
        skipped.push(ns.name);
        break;
      }
      if (outcome.kind === 'within-bounds') break;
      if (outcome.count > 0) {
        evicted[ns.name] = (evicted[ns.name] ?? 0) + outcome.count;
        rowsEvicted.inc({ namespace: ns.name }, outcome.count);
      }
      // Nothing deletable: the remaining candidates are locked by foreground writes; next run.
      if (outcome.count === 0) break;
    }
    if (!complete) break;
  }

  const total = Object.values(evicted).reduce((sum, n) => sum + n, 0);
  return { evicted, total, skipped, durationMs: Date.now() - started, complete };
}
