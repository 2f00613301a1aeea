/**
 * Rate limits on every backend: exact under concurrency, denied calls consume
 * nothing, cost 0 peeks, retryAfterMs is honest, state per (key, algorithm, limit, window).
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { RateLimitAlgorithm, RateLimitResult } from '../../src/core/port.js';
import { BACKENDS, useBackend, redisFactory } from '../support/backends.js';
import { httpFactory } from '../support/http-backend.js';

const ALGORITHMS: RateLimitAlgorithm[] = ['sliding-window', 'fixed-window', 'token-bucket'];
const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
const freshKey = (label: string) => `rl:${label}:${Date.now()}:${counter++}`;

function expectWellFormed(result: RateLimitResult, limit: number): void {
  expect(result.limit).toBe(limit);
  expect(Number.isInteger(result.remaining)).toBe(true);
  expect(result.remaining).toBeGreaterThanOrEqual(0);
  expect(result.remaining).toBeLessThanOrEqual(limit);
  expect(Number.isInteger(result.resetMs)).toBe(true);
  expect(Number.isInteger(result.retryAfterMs)).toBe(true);
  if (result.allowed) expect(result.retryAfterMs).toBe(0);
  else expect(result.retryAfterMs).toBeGreaterThan(0);
}

// The HTTP adapter too, in front of a server over Redis (the server's answers are the port's, whatever the backend).
describe.each([...BACKENDS, httpFactory(redisFactory)])('rate limits on $name', (factory) => {
  const backend = useBackend(factory);

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    // A one-day window: no window boundary or refill can fall inside these tests in practice.
    it('allows exactly 50 of 200 concurrent calls against a limit of 50', async () => {
      const key = freshKey('burst');
      const results = await Promise.all(
        Array.from({ length: 200 }, () => backend.port.rateLimit(key, { limit: 50, windowMs: DAY, algorithm })),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(50);
      for (const r of results) expectWellFormed(r, 50);
      const remainders = results
        .filter((r) => r.allowed)
        .map((r) => r.remaining)
        .sort((a, b) => a - b);
      expect(remainders).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const after = await backend.port.rateLimit(key, { limit: 50, windowMs: DAY, algorithm, cost: 0 });
      expect(after).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('consumes nothing on a denied call', async () => {
      const key = freshKey('denied');
      const call = (cost: number) => backend.port.rateLimit(key, { limit: 10, windowMs: DAY, algorithm, cost });
      expect(await call(4)).toMatchObject({ allowed: true, remaining: 6 });
      expect(await call(4)).toMatchObject({ allowed: true, remaining: 2 });
      for (let i = 0; i < 5; i++) {
        const denied = await call(4);
        expect(denied).toMatchObject({ allowed: false, remaining: 2 });
        expectWellFormed(denied, 10);
      }
      expect(await call(2)).toMatchObject({ allowed: true, remaining: 0 });
      const last = await call(1);
      expect(last).toMatchObject({ allowed: false, remaining: 0 });
    });

    it('peeks with cost 0: always allowed, consumes nothing', async () => {
      const key = freshKey('peek');
      const opts = { limit: 5, windowMs: DAY, algorithm };
      const fresh = await backend.port.rateLimit(key, { ...opts, cost: 0 });
      expect(fresh).toEqual({ allowed: true, limit: 5, remaining: 5, resetMs: 0, retryAfterMs: 0 });
      await backend.port.rateLimit(key, { ...opts, cost: 3 });
      for (let i = 0; i < 3; i++) {
        expect(await backend.port.rateLimit(key, { ...opts, cost: 0 })).toMatchObject({ allowed: true, remaining: 2 });
      }
      await backend.port.rateLimit(key, { ...opts, cost: 2 });
      const exhausted = await backend.port.rateLimit(key, { ...opts, cost: 0 });
      expect(exhausted).toMatchObject({ allowed: true, remaining: 0, retryAfterMs: 0 });
      expect(exhausted.resetMs).toBeGreaterThan(0);
    });

    it('keeps a separate state per key, limit, window and algorithm', async () => {
      const key = freshKey('scoped');
      await backend.port.rateLimit(key, { limit: 2, windowMs: DAY, algorithm, cost: 2 });
      expect((await backend.port.rateLimit(key, { limit: 2, windowMs: DAY, algorithm })).allowed).toBe(false);
      expect(await backend.port.rateLimit(key, { limit: 3, windowMs: DAY, algorithm })).toMatchObject({ allowed: true, remaining: 2 });
      expect(await backend.port.rateLimit(key, { limit: 2, windowMs: DAY - 1000, algorithm })).toMatchObject({
        allowed: true,
        remaining: 1,
      });
      expect(await backend.port.rateLimit(`${key}:other`, { limit: 2, windowMs: DAY, algorithm })).toMatchObject({
        allowed: true,
        remaining: 1,
      });
      const other = ALGORITHMS.find((a) => a !== algorithm) as RateLimitAlgorithm;
      expect(await backend.port.rateLimit(key, { limit: 2, windowMs: DAY, algorithm: other })).toMatchObject({
        allowed: true,
        remaining: 1,
      });
    });

    it('allows a denied call again once retryAfterMs has passed', async () => {
      const key = freshKey('retry');
      const opts = { limit: 3, windowMs: 1500, algorithm };
      let denied: RateLimitResult | undefined;
      for (let i = 0; i < 10 && !denied; i++) {
        const r = await backend.port.rateLimit(key, opts);
        if (!r.allowed) denied = r;
      }
      expect(denied).toBeDefined();
      const wait = (denied as RateLimitResult).retryAfterMs;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(algorithm === 'fixed-window' ? 1500 : 3000);
      await sleep(wait + 5);
      expect((await backend.port.rateLimit(key, opts)).allowed).toBe(true);
    });

    it('rejects a cost above the limit and bad options before calling the backend', async () => {
      const key = freshKey('invalid');
      await expect(backend.port.rateLimit(key, { limit: 5, windowMs: 1000, algorithm, cost: 6 })).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.port.rateLimit(key, { limit: 0, windowMs: 1000, algorithm })).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.port.rateLimit(key, { limit: 5, windowMs: 0, algorithm })).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.port.rateLimit(key, { limit: 5, windowMs: 1000, algorithm, cost: -1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.port.rateLimit(key, { limit: 5, windowMs: 1000, algorithm, cost: 1.5 })).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.port.rateLimit('', { limit: 5, windowMs: 1000, algorithm })).rejects.toBeInstanceOf(ValidationError);
      // The invalid calls created no state: the full limit is still there.
      expect(await backend.port.rateLimit(key, { limit: 5, windowMs: 1000, algorithm, cost: 0 })).toMatchObject({ remaining: 5 });
    });
  });

  it('starts a new fixed window at the boundary', async () => {
    const key = freshKey('fixed-rollover');
    const opts = { limit: 2, windowMs: 1000, algorithm: 'fixed-window' as const };
    const first = await backend.port.rateLimit(key, { ...opts, cost: 2 });
    expect(first.allowed).toBe(true);
    // The window ends resetMs after the call; the next one starts empty.
    await sleep(first.resetMs + 5);
    expect(await backend.port.rateLimit(key, { ...opts, cost: 2 })).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('weighs the previous window in a sliding window', async () => {
    const key = freshKey('sliding-rollover');
    const W = 3000;
    const opts = { limit: 10, windowMs: W, algorithm: 'sliding-window' as const };
    const first = await backend.port.rateLimit(key, { ...opts, cost: 10 });
    expect(first.allowed).toBe(true);
    // Fully reset once floor(10 · (W − e) / W) = 0 in the next window, i.e. at e = W − W/10 + 1.
    const untilWindowEnd = first.resetMs - (W - W / 10 + 1);
    expect(untilWindowEnd).toBeGreaterThan(0);
    expect(untilWindowEnd).toBeLessThanOrEqual(W);
    await sleep(untilWindowEnd + 5);
    // A new window has begun, yet most of the previous one still counts (a fixed window would show 10).
    const early = await backend.port.rateLimit(key, { ...opts, cost: 0 });
    expect(early.remaining).toBeLessThan(10);
    expect(early.resetMs).toBeLessThanOrEqual(W - W / 10 + 1);
    await sleep(early.resetMs + 5);
    expect(await backend.port.rateLimit(key, { ...opts, cost: 0 })).toMatchObject({ remaining: 10, resetMs: 0 });
  });

  it('refills the token bucket at limit/window tokens per ms', async () => {
    const key = freshKey('refill');
    // 5 tokens over 10 s: one token every 2 s.
    const opts = { limit: 5, windowMs: 10_000, algorithm: 'token-bucket' as const };
    expect(await backend.port.rateLimit(key, { ...opts, cost: 5 })).toMatchObject({ allowed: true, remaining: 0 });
    const denied = await backend.port.rateLimit(key, opts);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(2000);
    expect(denied.resetMs).toBeGreaterThan(8000);
    expect(denied.resetMs).toBeLessThanOrEqual(10_000);
    await sleep(denied.retryAfterMs + 5);
    expect(await backend.port.rateLimit(key, opts)).toMatchObject({ allowed: true, remaining: 0 });
    // The refilled token is spent: the next one is about 2 s away again.
    const again = await backend.port.rateLimit(key, opts);
    expect(again.allowed).toBe(false);
    expect(again.retryAfterMs).toBeGreaterThan(0);
  });
});
