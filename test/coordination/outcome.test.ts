/**
 * The backend-independent arithmetic of rate limits (core/rate-limit.ts),
 * on hand-computed snapshots: what remaining, resetMs and retryAfterMs mean.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { prepareRateLimit, rateLimitResult, type RateLimitRequest } from '../../src/core/rate-limit.js';

const request = (over: Partial<RateLimitRequest>): RateLimitRequest => ({
  key: 'k',
  limit: 10,
  windowMs: 1000,
  cost: 1,
  algorithm: 'sliding-window',
  ...over,
});

describe('rate limit outcome', () => {
  it('fixed window: remaining is what is left, reset and retry at the window end', () => {
    const r = request({ algorithm: 'fixed-window' });
    expect(rateLimitResult(r, true, { algorithm: 'fixed-window', nowMs: 10_250, windowStartMs: 10_000, current: 4 })).toEqual({
      allowed: true,
      limit: 10,
      remaining: 6,
      resetMs: 750,
      retryAfterMs: 0,
    });
    expect(rateLimitResult(r, false, { algorithm: 'fixed-window', nowMs: 10_900, windowStartMs: 10_000, current: 10 })).toEqual({
      allowed: false,
      limit: 10,
      remaining: 0,
      resetMs: 100,
      retryAfterMs: 100,
    });
  });

  it('sliding window: the previous window weighs (W − elapsed) / W, floored', () => {
    const r = request({ cost: 3 });
    // elapsed 250 ms: previous 8 weighs floor(8 · 750 / 1000) = 6; used 6 + 2 = 8; 6 + 2 + 3 > 10 → denied.
    const denied = rateLimitResult(r, false, {
      algorithm: 'sliding-window',
      nowMs: 10_250,
      windowStartMs: 10_000,
      current: 2,
      previous: 8,
    });
    expect(denied.remaining).toBe(2);
    // Allowed once floor(8 · (1000 − e) / 1000) ≤ 10 − 2 − 3 = 5, i.e. 8 · (1000 − e) < 6000 → e ≥ 251.
    expect(denied.retryAfterMs).toBe(1);
    // Fully reset when this window's 2 stop counting: floor(2 · (1000 − e) / 1000) = 0 at e = 501 of the next window.
    expect(denied.resetMs).toBe(750 + 501);
  });

  it('sliding window: a full current window waits for the next one', () => {
    const r = request({ cost: 4 });
    const denied = rateLimitResult(r, false, {
      algorithm: 'sliding-window',
      nowMs: 10_600,
      windowStartMs: 10_000,
      current: 9,
      previous: 0,
    });
    // Next window: floor(9 · (1000 − e) / 1000) ≤ 10 − 4 = 6 ⇔ 9 · (1000 − e) < 7000 ⇔ e ≥ 223.
    expect(denied).toMatchObject({ remaining: 1, retryAfterMs: 400 + 223 });
  });

  it('token bucket: level in 1/W units, refill limit/W tokens per ms', () => {
    const r = request({ algorithm: 'token-bucket', limit: 4, windowMs: 1000, cost: 2 });
    // Capacity 4000; level 1500 = 1.5 tokens; 2 tokens need 500 more units at 4 per ms → 125 ms.
    expect(rateLimitResult(r, false, { algorithm: 'token-bucket', nowMs: 0, tokens: 1500 })).toEqual({
      allowed: false,
      limit: 4,
      remaining: 1,
      resetMs: 625,
      retryAfterMs: 125,
    });
    expect(rateLimitResult(r, true, { algorithm: 'token-bucket', nowMs: 0, tokens: 4000 })).toEqual({
      allowed: true,
      limit: 4,
      remaining: 4,
      resetMs: 0,
      retryAfterMs: 0,
    });
  });

  it('validates options and applies defaults', () => {
    expect(prepareRateLimit('k', { limit: 5, windowMs: 1000 })).toEqual({
      key: 'k',
      limit: 5,
      windowMs: 1000,
      cost: 1,
      algorithm: 'sliding-window',
    });
    expect(() => prepareRateLimit('k', { limit: 5, windowMs: 1000, cost: 6 })).toThrow(ValidationError);
    expect(() => prepareRateLimit('k', { limit: 2 ** 40, windowMs: 86_400_000 })).toThrow(ValidationError);
    expect(() => prepareRateLimit('k', { limit: 5, windowMs: 1000, algorithm: 'leaky' as never })).toThrow(ValidationError);
  });
});
