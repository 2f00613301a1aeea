/**
 * Rate limits on Postgres: each call is ONE `INSERT … ON CONFLICT … DO UPDATE
 * … RETURNING` on the UNLOGGED rate_limits table. The row lock taken by the
 * upsert serializes concurrent calls for the same state, and the update reads
 * the latest committed row, so N parallel calls allow exactly min(N, limit).
 *
 * - The clock is the database's (clock_timestamp(), read once per row inside
 *   the update, i.e. after the row lock is held), so every app server agrees.
 * - The insert path is a fresh state (cost ≤ limit, so always allowed); the
 *   update path rolls the stored state forward and consumes only if allowed.
 * - `allowed` and `now_ms` are stored with the state so RETURNING can report
 *   them; remaining/reset/retry-after are derived in core/rate-limit.ts.
 * - expires_at is when the state becomes equivalent to a fresh one; the
 *   cleanup worker deletes rows past it.
 */
import type { RateLimitOptions, RateLimitResult, RateLimiter } from '../../core/port.js';
import { prepareRateLimit, rateLimitResult, type RateLimitRequest, type RateLimitState } from '../../core/rate-limit.js';
import type { PgContext } from './context.js';

interface StepRow {
  allowed: boolean;
  now_ms: bigint;
  window_start_ms: bigint;
  current_count: bigint;
  previous_count: bigint;
  tokens: bigint;
}

/** The database clock in epoch ms, read when evaluated (after the row lock, inside the update). */
function clockMs(ctx: PgContext) {
  return ctx.sql`floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;
}

/** `c(now_ms, start)`: now and the start of the window of length `windowMs` it falls in, for a fresh state. */
function freshWindow(ctx: PgContext, windowMs: number) {
  return ctx.sql`(SELECT t.now_ms, t.now_ms - t.now_ms % ${windowMs}::bigint AS start FROM (SELECT ${clockMs(ctx)} AS now_ms) t) c`;
}

/** `w(now_ms, start)`: now and its window start for the stored state `rl` (never before the stored window). */
function storedWindow(ctx: PgContext) {
  return ctx.sql`(SELECT t.now_ms, greatest(rl.window_start_ms, t.now_ms - t.now_ms % rl.window_ms) AS start
    FROM (SELECT ${clockMs(ctx)} AS now_ms) t) w`;
}

/** Fixed window: windows [k·W, (k+1)·W); the count resets when the window changes. */
function fixedWindowStep(ctx: PgContext, r: RateLimitRequest) {
  return ctx.sql<StepRow[]>`
    INSERT INTO rate_limits AS rl
      (key, algorithm, limit_count, window_ms, window_start_ms, current_count, now_ms, allowed, expires_at)
    SELECT ${r.key}, 'fixed-window', ${r.limit}::bigint, ${r.windowMs}::bigint,
           c.start, ${r.cost}::bigint, c.now_ms, true, to_timestamp((c.start + ${r.windowMs}::bigint) / 1000.0)
    FROM ${freshWindow(ctx, r.windowMs)}
    ON CONFLICT (key, algorithm, limit_count, window_ms) DO UPDATE
    SET (window_start_ms, current_count, now_ms, allowed, expires_at) = (
      SELECT s.start,
             s.used + CASE WHEN s.ok THEN ${r.cost}::bigint ELSE 0 END,
             s.now_ms,
             s.ok,
             to_timestamp((s.start + rl.window_ms) / 1000.0)
      FROM (
        SELECT w.now_ms, w.start, u.used, u.used + ${r.cost}::bigint <= rl.limit_count AS ok
        FROM ${storedWindow(ctx)}
        CROSS JOIN LATERAL (
          SELECT CASE WHEN rl.window_start_ms = w.start THEN rl.current_count ELSE 0 END AS used
        ) u
      ) s
    )
    RETURNING allowed, now_ms, window_start_ms, current_count, previous_count, tokens`;
}

/**
 * Sliding window (as @upstash/ratelimit): the previous window's count weighs
 * in proportion to how much of it still overlaps the last W ms.
 */
function slidingWindowStep(ctx: PgContext, r: RateLimitRequest) {
  return ctx.sql<StepRow[]>`
    INSERT INTO rate_limits AS rl
      (key, algorithm, limit_count, window_ms, window_start_ms, current_count, previous_count, now_ms, allowed, expires_at)
    SELECT ${r.key}, 'sliding-window', ${r.limit}::bigint, ${r.windowMs}::bigint,
           c.start, ${r.cost}::bigint, 0, c.now_ms, true, to_timestamp((c.start + 2 * ${r.windowMs}::bigint) / 1000.0)
    FROM ${freshWindow(ctx, r.windowMs)}
    ON CONFLICT (key, algorithm, limit_count, window_ms) DO UPDATE
    SET (window_start_ms, current_count, previous_count, now_ms, allowed, expires_at) = (
      SELECT s.start,
             s.cur + CASE WHEN s.ok THEN ${r.cost}::bigint ELSE 0 END,
             s.prev,
             s.now_ms,
             s.ok,
             to_timestamp((s.start + 2 * rl.window_ms) / 1000.0)
      FROM (
        SELECT w.now_ms, w.start, k.cur, k.prev,
               k.prev * (rl.window_ms - greatest(0, w.now_ms - w.start)) / rl.window_ms + k.cur + ${r.cost}::bigint
                 <= rl.limit_count AS ok
        FROM ${storedWindow(ctx)}
        CROSS JOIN LATERAL (
          SELECT CASE WHEN rl.window_start_ms = w.start THEN rl.current_count ELSE 0 END AS cur,
                 CASE WHEN rl.window_start_ms = w.start THEN rl.previous_count
                      WHEN rl.window_start_ms = w.start - rl.window_ms THEN rl.current_count
                      ELSE 0 END AS prev
        ) k
      ) s
    )
    RETURNING allowed, now_ms, window_start_ms, current_count, previous_count, tokens`;
}

/**
 * Token bucket: `limit` tokens, refilled completely over the window. The level
 * is in 1/W-token units (capacity limit·W, refill +limit per ms), so it is exact.
 */
function tokenBucketStep(ctx: PgContext, r: RateLimitRequest) {
  return ctx.sql<StepRow[]>`
    INSERT INTO rate_limits AS rl
      (key, algorithm, limit_count, window_ms, tokens, now_ms, allowed, expires_at)
    SELECT ${r.key}, 'token-bucket', ${r.limit}::bigint, ${r.windowMs}::bigint,
           (${r.limit}::bigint - ${r.cost}::bigint) * ${r.windowMs}::bigint, t.now_ms, true,
           to_timestamp((t.now_ms + (${r.cost}::bigint * ${r.windowMs}::bigint + ${r.limit}::bigint - 1) / ${r.limit}::bigint) / 1000.0)
    FROM (SELECT ${clockMs(ctx)} AS now_ms) t
    ON CONFLICT (key, algorithm, limit_count, window_ms) DO UPDATE
    SET (tokens, now_ms, allowed, expires_at) = (
      SELECT a.tokens,
             s.now_ms,
             s.ok,
             to_timestamp((s.now_ms + (rl.limit_count * rl.window_ms - a.tokens + rl.limit_count - 1) / rl.limit_count) / 1000.0)
      FROM (
        SELECT c.now_ms, f.tokens, f.tokens >= ${r.cost}::bigint * rl.window_ms AS ok
        FROM (SELECT greatest(rl.now_ms, ${clockMs(ctx)}) AS now_ms) c
        CROSS JOIN LATERAL (
          SELECT least(rl.limit_count * rl.window_ms,
                       rl.tokens + least(c.now_ms - rl.now_ms, rl.window_ms) * rl.limit_count) AS tokens
        ) f
      ) s
      CROSS JOIN LATERAL (
        SELECT s.tokens - CASE WHEN s.ok THEN ${r.cost}::bigint * rl.window_ms ELSE 0 END AS tokens
      ) a
    )
    RETURNING allowed, now_ms, window_start_ms, current_count, previous_count, tokens`;
}

const STEPS = {
  'fixed-window': fixedWindowStep,
  'sliding-window': slidingWindowStep,
  'token-bucket': tokenBucketStep,
} as const;

function toState(request: RateLimitRequest, row: StepRow): RateLimitState {
  const nowMs = Number(row.now_ms);
  switch (request.algorithm) {
    case 'fixed-window':
      return { algorithm: 'fixed-window', nowMs, windowStartMs: Number(row.window_start_ms), current: Number(row.current_count) };
    case 'sliding-window':
      return {
        algorithm: 'sliding-window',
        nowMs,
        windowStartMs: Number(row.window_start_ms),
        current: Number(row.current_count),
        previous: Number(row.previous_count),
      };
    case 'token-bucket':
      return { algorithm: 'token-bucket', nowMs, tokens: Number(row.tokens) };
  }
}

export function createPgRateLimiter(ctx: PgContext): RateLimiter {
  return {
    async rateLimit(key: string, options: RateLimitOptions): Promise<RateLimitResult> {
      const request = prepareRateLimit(key, options);
      const rows = await ctx.run('rateLimit', () => STEPS[request.algorithm](ctx, request));
      const row = rows[0];
      if (!row) throw new Error('rate limit upsert returned no row');
      // cost 0 only peeks: always allowed, and the step consumed nothing.
      return rateLimitResult(request, row.allowed || request.cost === 0, toState(request, row));
    },
  };
}
