/**
 * Locks as leases on Redis. Per name, two keys with the same hash tag (one
 * cluster slot, so one script may use both):
 *
 *   prefix:lock:{name}    hash {token (SHA-256 hex), fence, expires}, PEXPIREAT = expires
 *   prefix:fence:{name}   counter, INCR on every grant, never expires
 *
 * Expiry is native: an expired lease is simply gone, and the next acquire
 * takes the name with the next fence. The fence is only as durable as the
 * Redis server's persistence: with AOF `appendfsync always` it never repeats;
 * with RDB snapshots or `everysec`, a crash can lose the last increments and
 * a fence may be issued twice (see docs/coordination.md).
 */
import type { Lease, LockManager, LockState, ReleaseResult } from '../../core/port.js';
import { hashLeaseToken, newLeaseToken, validateLeaseToken, validateLeaseTtl, validateLockName } from '../../core/lease.js';
import type { RedisContext } from './context.js';
import { defineScript, replyInts, replyString } from './scripts.js';

/** {fence, expires} of a granted or extended lease; null when the script answered nil (not granted). */
function decodeGrant(reply: unknown): { fence: number; expiresAt: number } | null {
  if (reply === null) return null;
  const [fence = 0, expiresAt = 0] = replyInts(reply, 2, 'lock grant');
  return { fence, expiresAt };
}

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: lease, fence. ARGV: token hash, ttl ms. Reply: {fence, expires} or nil when held. */
const acquireScript = defineScript({
  name: 'lock_acquire',
  keys: ['lease', 'fence'],
  args: ['tokenHash', 'ttlMs'],
  decode: decodeGrant,
  source: `if redis.call('EXISTS', KEYS[1]) == 1 then return false end
${NOW}
local fence = redis.call('INCR', KEYS[2])
local expires = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', fence, 'expires', string.format('%d', expires))
redis.call('PEXPIREAT', KEYS[1], string.format('%d', expires))
return {fence, expires}`,
});

/** KEYS: lease. ARGV: token hash, ttl ms. Reply: {fence, expires} or nil when the token does not hold it. */
const extendScript = defineScript({
  name: 'lock_extend',
  keys: ['lease'],
  args: ['tokenHash', 'ttlMs'],
  decode: decodeGrant,
  source: `local lease = redis.call('HMGET', KEYS[1], 'token', 'fence')
if lease[1] ~= ARGV[1] then return false end
${NOW}
local expires = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'expires', string.format('%d', expires))
redis.call('PEXPIREAT', KEYS[1], string.format('%d', expires))
return {tonumber(lease[2]), expires}`,
});

/** KEYS: lease. ARGV: token hash. Reply: released | wrong_token | not_held. */
const releaseScript = defineScript({
  name: 'lock_release',
  keys: ['lease'],
  args: ['tokenHash'],
  decode: (r) => replyString(r, 'lock_release') as ReleaseResult,
  source: `local token = redis.call('HGET', KEYS[1], 'token')
if not token then return 'not_held' end
if token ~= ARGV[1] then return 'wrong_token' end
redis.call('DEL', KEYS[1])
return 'released'`,
});

/** KEYS: lease, fence. Reply: {1, fence, expires} when held, else {0, last fence or -1}. */
const inspectScript = defineScript({
  name: 'lock_inspect',
  keys: ['lease', 'fence'],
  args: [],
  decode: (r) => replyInts(r, 2, 'lock_inspect'),
  source: `local lease = redis.call('HMGET', KEYS[1], 'fence', 'expires')
if lease[1] then return {1, tonumber(lease[1]), tonumber(lease[2])} end
return {0, tonumber(redis.call('GET', KEYS[2]) or '-1')}`,
});

export function createRedisLockManager(ctx: RedisContext): LockManager {
  const leaseKey = (name: string) => ctx.sysKey('lock', name);
  const fenceKey = (name: string) => ctx.sysKey('fence', name);
  const tokenHash = (token: string) => hashLeaseToken(token).toString('hex');

  function toLease(token: string, grant: { fence: number; expiresAt: number } | null): Lease | null {
    return grant === null ? null : { token, ...grant };
  }

  return {
    async acquire(name, options) {
      validateLockName(name);
      validateLeaseTtl(options?.ttl);
      const token = newLeaseToken();
      const reply = await ctx.run('acquire', () =>
        acquireScript.call(ctx.redis, {
          keys: { lease: leaseKey(name), fence: fenceKey(name) },
          args: { tokenHash: tokenHash(token), ttlMs: options.ttl },
        }),
      );
      return toLease(token, reply);
    },

    async extend(name, token, ttl) {
      validateLockName(name);
      validateLeaseToken(token);
      validateLeaseTtl(ttl);
      const reply = await ctx.run('extend', () =>
        extendScript.call(ctx.redis, {
          keys: { lease: leaseKey(name) },
          args: { tokenHash: tokenHash(token), ttlMs: ttl },
        }),
      );
      return toLease(token, reply);
    },

    async release(name, token): Promise<ReleaseResult> {
      validateLockName(name);
      validateLeaseToken(token);
      return ctx.run('release', () =>
        releaseScript.call(ctx.redis, { keys: { lease: leaseKey(name) }, args: { tokenHash: tokenHash(token) } }),
      );
    },

    async inspectLock(name): Promise<LockState> {
      validateLockName(name);
      const reply = await ctx.run('inspectLock', () =>
        inspectScript.call(ctx.redis, { keys: { lease: leaseKey(name), fence: fenceKey(name) }, args: {} }),
      );
      const [held, fence = -1, expiresAt = 0] = reply;
      if (held === 1) return { held: true, expiresAt, fence };
      return { held: false, expiresAt: null, fence: fence < 0 ? null : fence };
    },
  };
}
