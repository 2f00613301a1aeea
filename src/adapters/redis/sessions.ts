/**
 * Sessions on Redis.
 *
 *   prefix:session:{<sha256 hex of id>}   hash: subject, data, created, expires, max, ttl
 *                                         (PEXPIREAT = expires, so Redis drops it natively)
 *   prefix:subject:{<subject>}            sorted set of the subject's session hashes,
 *                                         scored by their absolute cap (created + maxAge)
 *
 * The id itself is never stored, not even in a key name. Reading slides the
 * expiry in one Lua script using the server clock (TIME). A session key and
 * its subject's index live in different cluster slots, so create and revoke
 * are two steps, ordered so that a session is in its subject's index before
 * it exists (revoke-by-subject never misses a settled session). The index is
 * cleaned lazily: members whose cap has passed are dropped on every write to
 * it, and the whole set expires a minute after its last member's cap.
 */
import type { CreateSessionOptions, CreatedSession, JsonObject, Session, SessionStore } from '../../core/port.js';
import { hashSessionId, isSessionIdFormat, newSessionId } from '../../core/session-id.js';
import {
  DEFAULT_SESSION_LIMITS,
  prepareSessionCreate,
  serializeJsonObject,
  validateSubject,
  type SessionLimits,
} from '../../core/validation.js';
import type { RedisContext } from './context.js';
import { defineScript, replyArray, replyInt, replyInts, replyOptionalString, replyString, replyStrings } from './scripts.js';

/** Slack on the subject index's scores and expiry: the session is created a moment after it is indexed. */
const INDEX_SLACK_MS = 60_000;

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: subject index. ARGV: session hash hex, maxAge ms, slack ms. */
const indexAdd = defineScript({
  name: 'session_index_add',
  keys: ['subjectIndex'],
  args: ['sessionHash', 'maxAgeMs', 'slackMs'],
  decode: (r) => replyInt(r, 'session_index_add'),
  source: `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]) + tonumber(ARGV[3]))
return 1`,
});

/** KEYS: session. ARGV: subject, data JSON, ttl ms, maxAge ms. Returns {created, expires}. */
const create = defineScript({
  name: 'session_create',
  keys: ['session'],
  args: ['subject', 'dataJson', 'ttlMs', 'maxAgeMs'],
  decode: (r) => {
    const [createdAt = 0, expiresAt = 0] = replyInts(r, 2, 'session_create');
    return { createdAt, expiresAt };
  },
  source: `${NOW_MS}
local expires = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'subject', ARGV[1], 'data', ARGV[2], 'created', now, 'expires', expires,
  'max', now + tonumber(ARGV[4]), 'ttl', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], expires)
return {now, expires}`,
});

/** KEYS: session. Slides and returns {subject, data, created, expires}, or nil. */
const touch = defineScript({
  name: 'session_get',
  keys: ['session'],
  args: [],
  decode: (r) => {
    if (r === null) return null;
    const [subject, data, createdAt, expiresAt] = replyArray(r, 4, 'session_get');
    return {
      subject: replyString(subject, 'session_get'),
      dataJson: replyString(data, 'session_get'),
      createdAt: replyInt(createdAt, 'session_get'),
      expiresAt: replyInt(expiresAt, 'session_get'),
    };
  },
  source: `${NOW_MS}
local v = redis.call('HMGET', KEYS[1], 'subject', 'data', 'created', 'expires', 'max', 'ttl')
if not v[1] then return nil end
local expires = tonumber(v[4])
if expires <= now then return nil end
local slid = math.min(now + tonumber(v[6]), tonumber(v[5]))
if slid > expires then
  expires = slid
  redis.call('HSET', KEYS[1], 'expires', expires)
  redis.call('PEXPIREAT', KEYS[1], expires)
end
return {v[1], v[2], tonumber(v[3]), expires}`,
});

/** KEYS: session. The subject of a live session, or nil; reads without sliding. */
const subjectOf = defineScript({
  name: 'session_subject',
  keys: ['session'],
  args: [],
  decode: (r) => replyOptionalString(r, 'session_subject'),
  source: `${NOW_MS}
local v = redis.call('HMGET', KEYS[1], 'subject', 'expires')
if not v[1] or tonumber(v[2]) <= now then return false end
return v[1]`,
});

/** KEYS: session. ARGV: data JSON. 1 when a live session was updated. */
const update = defineScript({
  name: 'session_update',
  keys: ['session'],
  args: ['dataJson'],
  decode: (r) => replyInt(r, 'session_update') === 1,
  source: `${NOW_MS}
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if not expires or expires <= now then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[1])
return 1`,
});

/** KEYS: session. Deletes it; returns {live 0/1, subject or false}. */
const revoke = defineScript({
  name: 'session_revoke',
  keys: ['session'],
  args: [],
  decode: (r) => {
    const [live, subject] = replyArray(r, 1, 'session_revoke');
    const wasLive = replyInt(live, 'session_revoke') === 1;
    return { live: wasLive, subject: subject === undefined ? null : replyOptionalString(subject, 'session_revoke') };
  },
  source: `${NOW_MS}
local v = redis.call('HMGET', KEYS[1], 'subject', 'expires')
if not v[1] then return {0, false} end
redis.call('DEL', KEYS[1])
local live = 0
if tonumber(v[2]) > now then live = 1 end
return {live, v[1]}`,
});

/** KEYS: subject index. Takes and deletes it atomically; returns the hashes of sessions possibly live. */
const indexTake = defineScript({
  name: 'session_index_take',
  keys: ['subjectIndex'],
  args: [],
  decode: (r) => replyStrings(r, 'session_index_take'),
  source: `${NOW_MS}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
redis.call('DEL', KEYS[1])
return members`,
});

export function createRedisSessionStore(ctx: RedisContext, limits: SessionLimits = DEFAULT_SESSION_LIMITS): SessionStore {
  const { redis } = ctx;
  const sessionKey = (hashHex: string) => ctx.sysKey('session', hashHex);
  const subjectKey = (subject: string) => ctx.sysKey('subject', subject);
  const keyOf = (id: string) => sessionKey(hashSessionId(id).toString('hex'));

  return {
    async createSession(options: CreateSessionOptions): Promise<CreatedSession> {
      const { subject, dataJson, ttl, maxAge } = prepareSessionCreate(options, limits);
      const id = newSessionId();
      const hashHex = hashSessionId(id).toString('hex');
      const { createdAt, expiresAt } = await ctx.run('createSession', async (deadline) => {
        await indexAdd.call(redis, {
          keys: { subjectIndex: subjectKey(subject) },
          args: { sessionHash: hashHex, maxAgeMs: maxAge, slackMs: INDEX_SLACK_MS },
        });
        deadline.check();
        return create.call(redis, { keys: { session: sessionKey(hashHex) }, args: { subject, dataJson, ttlMs: ttl, maxAgeMs: maxAge } });
      });
      return { id, subject, createdAt, expiresAt };
    },

    async getSession(id: string): Promise<Session | undefined> {
      if (!isSessionIdFormat(id)) return undefined;
      const reply = await ctx.run('getSession', () => touch.call(redis, { keys: { session: keyOf(id) }, args: {} }));
      if (reply === null) return undefined;
      const { subject, dataJson, createdAt, expiresAt } = reply;
      return { subject, data: JSON.parse(dataJson) as JsonObject, createdAt, expiresAt };
    },

    async sessionSubject(id: string): Promise<string | undefined> {
      if (!isSessionIdFormat(id)) return undefined;
      const subject = await ctx.run('sessionSubject', () => subjectOf.call(redis, { keys: { session: keyOf(id) }, args: {} }));
      return subject ?? undefined;
    },

    async updateSession(id: string, data: JsonObject): Promise<boolean> {
      const dataJson = serializeJsonObject(data, limits.maxSessionDataBytes);
      if (!isSessionIdFormat(id)) return false;
      return ctx.run('updateSession', () => update.call(redis, { keys: { session: keyOf(id) }, args: { dataJson } }));
    },

    async revokeSession(id: string): Promise<boolean> {
      if (!isSessionIdFormat(id)) return false;
      const hashHex = hashSessionId(id).toString('hex');
      return ctx.run('revokeSession', async (deadline) => {
        const { live, subject } = await revoke.call(redis, { keys: { session: sessionKey(hashHex) }, args: {} });
        // The index entry would go lazily anyway; removing it now keeps the set small.
        deadline.check();
        if (typeof subject === 'string') await redis.zrem(subjectKey(subject), hashHex);
        return live;
      });
    },

    async revokeSubject(subject: string): Promise<number> {
      validateSubject(subject);
      return ctx.run('revokeSubject', async (deadline) => {
        const hashes = await indexTake.call(redis, { keys: { subjectIndex: subjectKey(subject) }, args: {} });
        // One DEL per session (each in its own cluster slot); DEL counts only keys
        // that still exist, and Redis drops a session key at its expiry.
        deadline.check();
        const deleted = await Promise.all(hashes.map((hashHex) => redis.del(sessionKey(hashHex))));
        return deleted.reduce((sum, n) => sum + n, 0);
      });
    },
  };
}
