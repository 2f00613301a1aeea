/**
 * Drizzle schema of rate-limit state and lock leases (Postgres backend).
 *
 * rate_limits is UNLOGGED (custom migration): losing it in a crash only
 * resets counters. locks is logged: its fence must never repeat, even after
 * a crash, so the row of a name is kept (with token_hash NULL) after release.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, index, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });
const cText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' });

/**
 * One row per (key, algorithm, limit, window): changing any of them starts a
 * fresh state. Times are epoch ms of the database clock.
 */
export const rateLimits = pgTable(
  'rate_limits',
  {
    key: cText('key').notNull(),
    algorithm: text('algorithm').notNull(),
    limitCount: bigint('limit_count', { mode: 'number' }).notNull(),
    windowMs: bigint('window_ms', { mode: 'number' }).notNull(),
    /** Fixed and sliding window: start of the current window. */
    windowStartMs: bigint('window_start_ms', { mode: 'number' }).notNull().default(0),
    /** Fixed and sliding window: cost consumed in the current window. */
    currentCount: bigint('current_count', { mode: 'number' }).notNull().default(0),
    /** Sliding window: cost consumed in the previous window. */
    previousCount: bigint('previous_count', { mode: 'number' }).notNull().default(0),
    /** Token bucket: level in 1/window_ms tokens, so refill is exact integer math. */
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
    /** Database clock at the last call (token bucket: time of the last refill). */
    nowMs: bigint('now_ms', { mode: 'number' }).notNull(),
    /** Outcome of the last call, read back by RETURNING. */
    allowed: boolean('allowed').notNull(),
    /** When the state is equivalent to a fresh one; cleanup deletes rows past it. */
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ name: 'rate_limits_pkey', columns: [t.key, t.algorithm, t.limitCount, t.windowMs] }),
    index('rate_limits_expires_at_idx').on(t.expiresAt),
  ],
);

/**
 * Lease and fence of each lock name, in one logged row. The fence is bumped
 * in the same statement that grants the lease.
 */
export const locks = pgTable('locks', {
  name: text('name').primaryKey(),
  /** The last fence issued; only ever increases. */
  fence: bigint('fence', { mode: 'number' }).notNull(),
  /** SHA-256 of the holder's token; NULL once released. */
  tokenHash: bytea('token_hash'),
  expiresAt: timestamp('expires_at', { withTimezone: true }),
  acquiredAt: timestamp('acquired_at', { withTimezone: true }).notNull().default(sql`now()`),
});
