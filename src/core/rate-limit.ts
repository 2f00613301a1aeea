/**
 * Rate limiting, the backend-independent half. Each backend runs ONE atomic
 * step (a SQL statement or a Lua script) that rolls the state forward to the
 * backend's clock, decides `allowed`, consumes the cost only when allowed,
 * and returns the new state with that clock. Everything a caller sees besides
 * `allowed` (remaining, resetMs, retryAfterMs) is derived here from that
 * snapshot, so both backends answer identically and exactly.
 *
 * The three algorithms and their state:
 * - fixed-window: windows [k·W, (k+1)·W); `current` = cost consumed in the window.
 * - sliding-window (as @upstash/ratelimit): used = floor(previous · (W − elapsed) / W) + current,
 *   where elapsed is the time since the current window started.
 * - token-bucket: `limit` tokens, refilled completely over W (limit/W tokens per ms).
 *   The level is kept in 1/W-token units so refill is integer math: +limit per ms.
 *
 * Integer math stays exact because limit · W ≤ 2^53 (checked here), which is
 * also what Lua's doubles represent exactly.
 */
import { ValidationError } from './errors.js';
import type { RateLimitAlgorithm, RateLimitOptions, RateLimitResult } from './port.js';
import { validateKey, validateRequiredTtl } from './validation.js';

export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = ['sliding-window', 'fixed-window', 'token-bucket'];

/** Validated options with defaults applied. */
export interface RateLimitRequest {
  key: string;
  limit: number;
  windowMs: number;
  cost: number;
  algorithm: RateLimitAlgorithm;
}

/** The state after one atomic step, read at the backend's clock `nowMs`. */
export type RateLimitState =
  | { algorithm: 'fixed-window'; nowMs: number; windowStartMs: number; current: number }
  | { algorithm: 'sliding-window'; nowMs: number; windowStartMs: number; current: number; previous: number }
  | { algorithm: 'token-bucket'; nowMs: number; tokens: number };

function fail(name: string, reason: string): never {
  throw new ValidationError({ name, reason });
}

/** Validates before any backend call; throws ValidationError naming the field. */
export function prepareRateLimit(key: unknown, options: RateLimitOptions): RateLimitRequest {
  validateKey(key, 'key');
  if (typeof options !== 'object' || options === null) fail('options', 'must be an object');
  const { limit, windowMs, cost = 1, algorithm = 'sliding-window' } = options;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit <= 0) fail('limit', 'must be a positive integer');
  validateRequiredTtl(windowMs, 'window');
  if (limit * windowMs > Number.MAX_SAFE_INTEGER) {
    fail('limit', `limit × window (ms) must not exceed 2^53; ${limit} per ${windowMs} ms is too fine-grained`);
  }
  if (typeof cost !== 'number' || !Number.isSafeInteger(cost) || cost < 0) fail('cost', 'must be a non-negative integer');
  if (cost > limit) fail('cost', `is ${cost}, above the limit of ${limit}: such a request could never be allowed`);
  if (!RATE_LIMIT_ALGORITHMS.includes(algorithm)) fail('algorithm', `must be one of ${RATE_LIMIT_ALGORITHMS.join(', ')}`);
  return { key, limit, windowMs, cost, algorithm };
}

/** ⌈a / b⌉ for non-negative integers a and b > 0 (a ≤ 2^53). */
export function ceilDiv(a: number, b: number): number {
  const q = Math.floor(a / b);
  return q * b < a ? q + 1 : q;
}

function floorDiv(a: number, b: number): number {
  const q = Math.floor(a / b);
  return q * b > a ? q - 1 : q;
}

/**
 * Sliding window: the first elapsed time e (ms into a window) at which
 * floor(previous · (W − e) / W) ≤ budget, i.e. previous · (W − e) < (budget + 1) · W.
 */
function slidingThreshold(previous: number, budget: number, windowMs: number): number {
  return windowMs - ceilDiv((budget + 1) * windowMs, previous) + 1;
}

/** Builds the caller's answer from the step's outcome and state. */
export function rateLimitResult(request: RateLimitRequest, allowed: boolean, state: RateLimitState): RateLimitResult {
  const { limit, windowMs: W, cost } = request;
  const now = state.nowMs;
  const answer = (remaining: number, resetMs: number, retryAfterMs: number): RateLimitResult => ({
    allowed,
    limit,
    remaining: Math.max(0, remaining),
    resetMs: Math.max(0, resetMs),
    retryAfterMs: allowed ? 0 : Math.max(0, retryAfterMs),
  });

  switch (state.algorithm) {
    case 'fixed-window': {
      const windowEnd = state.windowStartMs + W;
      const resetMs = state.current > 0 ? windowEnd - now : 0;
      // The next window starts empty and cost ≤ limit, so it is allowed then.
      return answer(limit - state.current, resetMs, windowEnd - now);
    }
    case 'sliding-window': {
      const { windowStartMs: start, current, previous } = state;
      const elapsed = Math.max(0, now - start);
      const used = floorDiv(previous * (W - elapsed), W) + current;
      // Fully reset when the weighted count of the last non-empty window reaches 0.
      let resetMs = 0;
      if (current > 0) resetMs = start + W + slidingThreshold(current, 0, W) - now;
      else if (used > 0) resetMs = start + slidingThreshold(previous, 0, W) - now;
      let retryAfterMs = 0;
      if (!allowed) {
        const budget = limit - current - cost;
        // Room in this window once the previous window's weight decays enough;
        // otherwise in the next one, where this window's count becomes `previous`.
        retryAfterMs =
          budget >= 0 ? start + slidingThreshold(previous, budget, W) - now : start + W + slidingThreshold(current, limit - cost, W) - now;
      }
      return answer(limit - used, resetMs, retryAfterMs);
    }
    case 'token-bucket': {
      const capacity = limit * W;
      const remaining = floorDiv(state.tokens, W);
      const resetMs = ceilDiv(capacity - state.tokens, limit);
      const retryAfterMs = ceilDiv(Math.max(0, cost * W - state.tokens), limit);
      return answer(remaining, resetMs, retryAfterMs);
    }
  }
}
