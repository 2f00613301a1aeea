/**
 * Presence on Redis, three structures per channel in one cluster slot:
 *
 *   prefix:presence:{<channel>}:exp     sorted set member → expiry (epoch ms)
 *   prefix:presence:{<channel>}:names   sorted set, all scores 0: members in byte order
 *   prefix:presence:{<channel>}:data    hash member → data JSON
 *
 * Every script first drops lapsed members (ZRANGEBYSCORE/ZREMRANGEBYSCORE
 * -inf..now on the server clock), so a lapsed member is never listed or
 * counted and no cleanup job is needed. count is ZCARD; members pages the
 * names set with BYLEX … LIMIT, so both cost O(result + lapsed removed).
 * The three keys expire natively with the channel's last member.
 */
import type { HeartbeatOptions, JsonValue, PresenceList, PresenceTracker } from '../../core/port.js';
import {
  DEFAULT_PRESENCE_LIMIT,
  DEFAULT_SESSION_LIMITS,
  MAX_PRESENCE_LIMIT,
  prepareHeartbeat,
  validateListLimit,
  validateName,
  type SessionLimits,
} from '../../core/validation.js';
import type { RedisContext } from './context.js';
import { defineScript, replyArray, replyInt, replyInts, replyOptionalString, replyStrings } from './scripts.js';

/** Server clock in ms, and removal of lapsed members (expiry ≤ now) from all three keys, in chunks (unpack limit). */
const PRELUDE = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 1, #lapsed, 500 do
  local chunk = {unpack(lapsed, i, math.min(i + 499, #lapsed))}
  redis.call('ZREM', KEYS[2], unpack(chunk))
  redis.call('HDEL', KEYS[3], unpack(chunk))
end
if #lapsed > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) end`;

/** ARGV: member, ttl ms, data JSON. */
const heartbeatScript = defineScript({
  name: 'presence_heartbeat',
  keys: ['expiries', 'names', 'data'],
  args: ['member', 'ttlMs', 'dataJson'],
  decode: (r) => replyInt(r, 'presence_heartbeat'),
  source: `${PRELUDE}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
local last = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
for i = 1, 3 do redis.call('PEXPIREAT', KEYS[i], last + 1) end
return 1`,
});

/** ARGV: member. 1 when it was present (live). */
const leaveScript = defineScript({
  name: 'presence_leave',
  keys: ['expiries', 'names', 'data'],
  args: ['member'],
  decode: (r) => replyInt(r, 'presence_leave') === 1,
  source: `${PRELUDE}
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return removed`,
});

/** ARGV: limit. Returns {count, names, data, expiries}. */
const membersScript = defineScript({
  name: 'presence_members',
  keys: ['expiries', 'names', 'data'],
  args: ['limit'],
  decode: (r) => {
    const [count, names, data, expiries] = replyArray(r, 4, 'presence_members');
    return {
      count: replyInt(count, 'presence_members'),
      names: replyStrings(names, 'presence_members'),
      data: replyArray(data, 0, 'presence_members').map((d) => replyOptionalString(d ?? null, 'presence_members')),
      expiries: replyInts(expiries, 0, 'presence_members'),
    };
  },
  source: `${PRELUDE}
local count = redis.call('ZCARD', KEYS[1])
local names = redis.call('ZRANGE', KEYS[2], '-', '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[1]))
local data, expiries = {}, {}
for i = 1, #names, 500 do
  local chunk = {unpack(names, i, math.min(i + 499, #names))}
  local values = redis.call('HMGET', KEYS[3], unpack(chunk))
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(chunk))
  for j = 1, #chunk do
    data[i + j - 1] = values[j]
    expiries[i + j - 1] = tonumber(scores[j])
  end
end
return {count, names, data, expiries}`,
});

const countScript = defineScript({
  name: 'presence_count',
  keys: ['expiries', 'names', 'data'],
  args: [],
  decode: (r) => replyInt(r, 'presence_count'),
  source: `${PRELUDE}
return redis.call('ZCARD', KEYS[1])`,
});

export function createRedisPresenceTracker(ctx: RedisContext, limits: SessionLimits = DEFAULT_SESSION_LIMITS): PresenceTracker {
  const { redis } = ctx;
  const keys = (channel: string) => ({
    expiries: ctx.sysKey('presence', channel, 'exp'),
    names: ctx.sysKey('presence', channel, 'names'),
    data: ctx.sysKey('presence', channel, 'data'),
  });

  return {
    async heartbeat(channel: string, member: string, options: HeartbeatOptions): Promise<void> {
      const { dataJson, ttl } = prepareHeartbeat(channel, member, options, limits);
      await ctx.run('heartbeat', () => heartbeatScript.call(redis, { keys: keys(channel), args: { member, ttlMs: ttl, dataJson } }));
    },

    async leave(channel: string, member: string): Promise<boolean> {
      validateName(channel, 'channel');
      validateName(member, 'member');
      return ctx.run('leave', () => leaveScript.call(redis, { keys: keys(channel), args: { member } }));
    },

    async members(channel: string, options: { limit?: number } = {}): Promise<PresenceList> {
      validateName(channel, 'channel');
      validateListLimit(options.limit, MAX_PRESENCE_LIMIT);
      const limit = options.limit ?? DEFAULT_PRESENCE_LIMIT;
      const { count, names, data, expiries } = await ctx.run('members', () =>
        membersScript.call(redis, { keys: keys(channel), args: { limit } }),
      );
      const list: PresenceList = { count, members: [] };
      for (let i = 0; i < names.length; i++) {
        list.members.push({
          member: names[i] as string,
          data: JSON.parse(data[i] ?? 'null') as JsonValue,
          expiresAt: expiries[i] as number,
        });
      }
      return list;
    },

    async count(channel: string): Promise<number> {
      validateName(channel, 'channel');
      return ctx.run('count', () => countScript.call(redis, { keys: keys(channel), args: {} }));
    },
  };
}
