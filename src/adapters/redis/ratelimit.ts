/**
 * Rate limits on Redis: each call is ONE Lua script on one hash key
 * `prefix:rl:{key}:<algorithm>:<limit>:<window>` (changing algorithm, limit or
 * window starts a fresh state; one key, so any cluster slot works).
 *
 * - The clock is Redis's (TIME inside the script), so app servers agree.
 * - The script rolls the state forward, consumes the cost only if allowed,
 *   sets PEXPIREAT to when the state becomes equivalent to a fresh one, and
 *   returns {allowed, now, ...state}; core/rate-limit.ts derives the rest, the
 *   same code as for Postgres.
 * - Numbers written back go through string.format('%d'): Lua would otherwise
 *   format them with 14 significant digits. limit·window ≤ 2^53 keeps the
 *   double arithmetic exact.
 */
import type { RateLimitOptions, RateLimitResult, RateLimiter } from '../../core/port.js';
import { prepareRateLimit, rateLimitResult, type RateLimitRequest, type RateLimitState } from '../../core/rate-limit.js';
import type { RedisContext } from './context.js';
import { defineScript, replyInts } from './scripts.js';

/** Shared prologue: ARGV = limit, window ms, cost; `now` from the Redis clock. */
const PROLOGUE = `
local L = tonumber(ARGV[1])
local W = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%d', x) end
`;

const fixedWindow = defineScript({
  name: 'ratelimit_fixed_window',
  keys: ['state'],
  args: ['limit', 'windowMs', 'cost'],
  decode: (r) => replyInts(r, 4, 'ratelimit_fixed_window'),
  source: `${PROLOGUE}
local s = redis.call('HMGET', KEYS[1], 'start', 'cur')
local start = now - now % W
local cur = 0
local stored = tonumber(s[1])
if stored then
  if stored > start then start = stored end
  if stored == start then cur = tonumber(s[2]) end
end
local ok = cur + cost <= L
if ok then cur = cur + cost end
redis.call('HSET', KEYS[1], 'start', int(start), 'cur', int(cur))
redis.call('PEXPIREAT', KEYS[1], int(start + W))
return {ok and 1 or 0, now, start, cur}
`,
});

const slidingWindow = defineScript({
  name: 'ratelimit_sliding_window',
  keys: ['state'],
  args: ['limit', 'windowMs', 'cost'],
  decode: (r) => replyInts(r, 5, 'ratelimit_sliding_window'),
  source: `${PROLOGUE}
local s = redis.call('HMGET', KEYS[1], 'start', 'cur', 'prev')
local start = now - now % W
local cur, prev = 0, 0
local stored = tonumber(s[1])
if stored then
  if stored > start then start = stored end
  if stored == start then
    cur = tonumber(s[2])
    prev = tonumber(s[3])
  elseif stored == start - W then
    prev = tonumber(s[2])
  end
end
local elapsed = math.max(0, now - start)
local used = math.floor(prev * (W - elapsed) / W) + cur
local ok = used + cost <= L
if ok then cur = cur + cost end
redis.call('HSET', KEYS[1], 'start', int(start), 'cur', int(cur), 'prev', int(prev))
redis.call('PEXPIREAT', KEYS[1], int(start + 2 * W))
return {ok and 1 or 0, now, start, cur, prev}
`,
});

/** Level in 1/W-token units: capacity L·W, refill +L per ms, a call costs cost·W. */
const tokenBucket = defineScript({
  name: 'ratelimit_token_bucket',
  keys: ['state'],
  args: ['limit', 'windowMs', 'cost'],
  decode: (r) => replyInts(r, 3, 'ratelimit_token_bucket'),
  source: `${PROLOGUE}
local s = redis.call('HMGET', KEYS[1], 'tokens', 'now')
local capacity = L * W
local tokens, last = capacity, now
if s[1] then
  tokens = tonumber(s[1])
  last = tonumber(s[2])
end
if last > now then now = last end
tokens = math.min(capacity, tokens + math.min(now - last, W) * L)
local ok = tokens >= cost * W
if ok then tokens = tokens - cost * W end
redis.call('HSET', KEYS[1], 'tokens', int(tokens), 'now', int(now))
redis.call('PEXPIREAT', KEYS[1], int(now + math.ceil((capacity - tokens) / L)))
return {ok and 1 or 0, now, tokens}
`,
});

const SCRIPTS = {
  'fixed-window': fixedWindow,
  'sliding-window': slidingWindow,
  'token-bucket': tokenBucket,
} as const;

function toState(request: RateLimitRequest, reply: number[]): RateLimitState {
  const [, nowMs = 0, a = 0, b = 0, c = 0] = reply;
  switch (request.algorithm) {
    case 'fixed-window':
      return { algorithm: 'fixed-window', nowMs, windowStartMs: a, current: b };
    case 'sliding-window':
      return { algorithm: 'sliding-window', nowMs, windowStartMs: a, current: b, previous: c };
    case 'token-bucket':
      return { algorithm: 'token-bucket', nowMs, tokens: a };
  }
}

export function createRedisRateLimiter(ctx: RedisContext): RateLimiter {
  return {
    async rateLimit(key: string, options: RateLimitOptions): Promise<RateLimitResult> {
      const request = prepareRateLimit(key, options);
      const { algorithm, limit, windowMs, cost } = request;
      const stateKey = ctx.sysKey('rl', key, algorithm, String(limit), String(windowMs));
      const reply = await ctx.run('rateLimit', () =>
        SCRIPTS[algorithm].call(ctx.redis, { keys: { state: stateKey }, args: { limit, windowMs, cost } }),
      );
      // cost 0 only peeks: always allowed, and the script consumed nothing.
      return rateLimitResult(request, reply[0] === 1 || cost === 0, toState(request, reply));
    },
  };
}
