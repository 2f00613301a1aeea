/**
 * Upkeep of the Postgres storage, called by the cleanup worker (jobs/), which
 * only schedules it: TTL cleanup, LRU eviction of bounded namespaces, channel
 * retention, and table health. Each works in bounded batches, each batch its own short
 * statement or transaction, until done, out of time, or aborted; what is left
 * waits for the next run. Every function returns counts.
 */
import type { EvictionPolicy } from '../../core/port.js';
import { isBounded } from '../../core/write.js';
import type { Queryable, Sql } from './connection.js';
import {
  announceAsEviction,
  deleteExpiredBatch,
  evictLruBatch,
  forgetIdleChannels,
  namespaceUsage,
  selectChannelsWithMessages,
  selectExpiredBacklog,
  selectNamespaceBounds,
  selectTupleStats,
  trimChannelBatch,
  tryLockNamespaceEviction,
} from './maintenance-sql.js';
import { CLEANUP_TABLES, tableFor, type CleanupTable, type EntryTable } from './tables.js';

export interface BatchedRunOptions {
  /** Rows per DELETE statement. */
  batchSize: number;
  /** Stop starting new batches after this long, in ms. */
  timeBudgetMs: number;
  /** Aborted → stop after the current batch (worker shutdown). */
  signal?: AbortSignal;
  /**
   * Idle time between two batches, in ms (default 0): gives foreground queries
   * the CPU, I/O and WAL bandwidth back between DELETEs (see docs/worker.md).
   * Counted in the time budget; an abort ends the pause at once.
   */
  pauseMs?: number;
}

/** Waits `ms` (no timer for 0); resolves early when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The clock of one run: `over()` is true once no new batch may start (budget
 * spent or aborted); `between()` is the pause before every batch but the first.
 */
function runClock(options: BatchedRunOptions): { over(): boolean; elapsedMs(): number; between(): Promise<void> } {
  const started = Date.now();
  const deadline = started + options.timeBudgetMs;
  let batches = 0;
  return {
    over: () => options.signal?.aborted === true || Date.now() >= deadline,
    elapsedMs: () => Date.now() - started,
    // A pause never outlasts the budget: the run ends on time, not a pause later.
    between: () => (batches++ === 0 ? Promise.resolve() : pause(Math.min(options.pauseMs ?? 0, deadline - Date.now()), options.signal)),
  };
}

export interface ExpiredCleanupResult {
  deleted: Record<CleanupTable, number>;
  total: number;
  durationMs: number;
  /** False when the budget ran out or the run was aborted with expired rows possibly left. */
  complete: boolean;
}

/** Deletes expired rows of every cleanup table; `onDeleted` hears each batch's count as it lands. */
export async function deleteExpiredRows(
  sql: Queryable,
  options: BatchedRunOptions & { onDeleted?: (table: CleanupTable, count: number) => void },
): Promise<ExpiredCleanupResult> {
  const clock = runClock(options);
  const deleted = Object.fromEntries(CLEANUP_TABLES.map((table) => [table, 0])) as Record<CleanupTable, number>;
  let complete = true;

  for (const table of CLEANUP_TABLES) {
    for (;;) {
      await clock.between();
      if (clock.over()) {
        complete = false;
        break;
      }
      const count = await deleteExpiredBatch(sql, table, options.batchSize);
      deleted[table] += count;
      options.onDeleted?.(table, count);
      // A short batch means the index had no more unlocked expired rows.
      if (count < options.batchSize) break;
    }
    if (!complete) break;
  }

  const total = Object.values(deleted).reduce((sum, n) => sum + n, 0);
  return { deleted, total, durationMs: clock.elapsedMs(), complete };
}

export interface EvictionResult {
  /** Entries evicted, by namespace (only namespaces that lost entries). */
  evicted: Record<string, number>;
  total: number;
  /** Namespaces skipped because another worker held their eviction lock. */
  skipped: string[];
  durationMs: number;
  complete: boolean;
}

interface BoundedNamespace {
  name: string;
  eviction: EvictionPolicy;
  maxEntries: number | null;
  maxBytes: number | null;
  table: EntryTable;
}

/** Namespaces whose bounds eviction enforces (isBounded); with eviction 'none' their entries are never evicted. */
async function listBoundedNamespaces(sql: Queryable): Promise<BoundedNamespace[]> {
  const namespaces = (await selectNamespaceBounds(sql)).map((row) => ({
    name: row.name,
    eviction: row.eviction as EvictionPolicy,
    maxEntries: row.max_entries === null ? null : Number(row.max_entries),
    maxBytes: row.max_bytes === null ? null : Number(row.max_bytes),
    table: tableFor(row),
  }));
  return namespaces.filter((ns) => isBounded(ns));
}

type BatchOutcome = { kind: 'evicted'; count: number } | { kind: 'within-bounds' } | { kind: 'locked' };

/**
 * One batch is one short transaction holding a transaction-scoped advisory
 * lock on the namespace: two workers never evict the same namespace at once
 * (which would overshoot), and a crashed worker leaves no lock behind.
 */
async function evictOneBatch(sql: Sql, ns: BoundedNamespace, batchSize: number): Promise<BatchOutcome> {
  return sql.begin(async (tx) => {
    if (!(await tryLockNamespaceEviction(tx, ns.name))) return { kind: 'locked' } as const;
    const usage = await namespaceUsage(tx, ns.table, ns.name);
    const excessEntries = ns.maxEntries === null ? 0 : Math.max(0, usage.entries - ns.maxEntries);
    const excessBytes = ns.maxBytes === null ? 0 : Math.max(0, usage.bytes - ns.maxBytes);
    if (excessEntries === 0 && excessBytes === 0) return { kind: 'within-bounds' } as const;
    // Only a byte bound needs rows beyond excessEntries; don't lock more than needed.
    const limit = excessBytes > 0 ? batchSize : Math.min(batchSize, excessEntries);
    await announceAsEviction(tx);
    const count = await evictLruBatch(tx, ns.table, ns.name, excessEntries, excessBytes, limit);
    return { kind: 'evicted', count } as const;
  });
}

/**
 * Brings every bounded namespace back within its maxEntries / maxBytes, least
 * recently used first; `onEvicted` hears each batch's count as it lands.
 */
export async function evictOverBounds(
  sql: Sql,
  options: BatchedRunOptions & { onEvicted?: (ns: string, count: number) => void },
): Promise<EvictionResult> {
  const clock = runClock(options);
  const evicted: Record<string, number> = {};
  const skipped: string[] = [];
  let complete = true;

  for (const ns of await listBoundedNamespaces(sql)) {
    for (;;) {
      await clock.between();
      if (clock.over()) {
        complete = false;
        break;
      }
      const outcome = await evictOneBatch(sql, ns, options.batchSize);
      if (outcome.kind === 'locked') {
        skipped.push(ns.name);
        break;
      }
      if (outcome.kind === 'within-bounds') break;
      if (outcome.count > 0) {
        evicted[ns.name] = (evicted[ns.name] ?? 0) + outcome.count;
        options.onEvicted?.(ns.name, outcome.count);
      }
      // Nothing deletable: the remaining candidates are locked by foreground writes; next run.
      if (outcome.count === 0) break;
    }
    if (!complete) break;
  }

  const total = Object.values(evicted).reduce((sum, n) => sum + n, 0);
  return { evicted, total, skipped, durationMs: clock.elapsedMs(), complete };
}

export interface TableHealth {
  table: CleanupTable;
  deadTuples: number;
  liveTuples: number;
  /** Capped at PENDING_COUNT_CAP. */
  expiredPending: number;
  /** Seconds since the oldest still-present expired row expired; 0 when none. */
  oldestExpiredAgeSeconds: number;
}

/** Dead tuples and the expired backlog of every cleanup table. */
export async function readTableHealth(sql: Queryable): Promise<TableHealth[]> {
  const stats = await selectTupleStats(sql);
  const health: TableHealth[] = [];
  for (const table of CLEANUP_TABLES) {
    const [backlog] = await selectExpiredBacklog(sql, table);
    const stat = stats.find((row) => row.relname === table);
    health.push({
      table,
      deadTuples: Number(stat?.n_dead_tup ?? 0n),
      liveTuples: Number(stat?.n_live_tup ?? 0n),
      expiredPending: Number(backlog?.pending ?? 0n),
      oldestExpiredAgeSeconds: backlog?.oldest_age ?? 0,
    });
  }
  return health;
}

export interface ChannelTrimOptions extends BatchedRunOptions {
  /** CHANNEL_RETENTION in ms. */
  retentionMs: number;
  /** Messages kept per channel at most. */
  maxMessages: number;
  /** How long an idle channel's row (its last id) outlives its messages. */
  forgetMs: number;
}

export interface ChannelTrimResult {
  /** Messages deleted (past retention or beyond the per-channel bound). */
  deleted: number;
  /** Idle channels forgotten. */
  forgotten: number;
  durationMs: number;
  complete: boolean;
}

const CHANNEL_PAGE = 500;

/**
 * Channel retention: deletes, channel by channel, the messages past
 * retention or beyond `maxMessages` (oldest first, in batches), then forgets
 * idle channels. Reads already treat a message past retention as gone; this
 * frees the rows and enforces the count bound. Publish trims its own
 * channel's expired messages too, so this mostly serves idle channels.
 */
export async function trimChannels(sql: Queryable, options: ChannelTrimOptions): Promise<ChannelTrimResult> {
  const clock = runClock(options);
  let deleted = 0;
  let forgotten = 0;
  let complete = true;
  let after = '';
  pages: for (;;) {
    const channels = await selectChannelsWithMessages(sql, after, CHANNEL_PAGE);
    for (const channel of channels) {
      for (;;) {
        if (clock.over()) {
          complete = false;
          break pages;
        }
        const count = await trimChannelBatch(sql, channel, options.retentionMs, options.maxMessages, options.batchSize);
        deleted += count;
        if (count < options.batchSize) break;
      }
    }
    if (channels.length < CHANNEL_PAGE) break;
    after = channels.at(-1) ?? after;
  }
  while (complete) {
    if (clock.over()) {
      complete = false;
      break;
    }
    const count = await forgetIdleChannels(sql, options.forgetMs, options.batchSize);
    forgotten += count;
    if (count < options.batchSize) break;
  }
  return { deleted, forgotten, durationMs: clock.elapsedMs(), complete };
}
