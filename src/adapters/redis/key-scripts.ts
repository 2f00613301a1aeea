/**
 * Lua scripts of key listings, top entries and bulk expire (layout in
 * entry-scripts.ts). Each works on one bounded chunk of one namespace's
 * indexes, so Redis is never blocked for long.
 */
import { NOW_MS } from './entry-scripts.js';
import { replyArray, replyInt, replyString, defineScript } from './scripts.js';

export interface ScannedMember {
  key: string;
  live: boolean;
  size: number;
  expiresAt: number | null;
}

/** Flat (member, live, size, expiry or '') quadruples → rows. */
function toScanned(reply: unknown): ScannedMember[] {
  const flat = replyArray(reply, 0, 'cp_list_keys');
  const rows: ScannedMember[] = [];
  for (let i = 0; i + 3 < flat.length; i += 4) {
    const expiry = replyString(flat[i + 3], 'cp_list_keys');
    rows.push({
      key: replyString(flat[i], 'cp_list_keys'),
      live: replyInt(flat[i + 1], 'cp_list_keys') === 1,
      size: replyInt(flat[i + 2], 'cp_list_keys'),
      expiresAt: expiry === '' ? null : Number(expiry),
    });
  }
  return rows;
}

/**
 * Read-only: up to `window` members of a lex range of the keys index, each
 * with whether its entry still exists (members of expired or evicted entries
 * stay until pruned), its value bytes and expiry.
 * KEYS: keys index. ARGV: min, max (ZRANGEBYLEX syntax), window, entry prefix.
 */
export const listKeysWindow = defineScript({
  name: 'cp_list_keys',
  keys: ['keysIndex'],
  args: ['min', 'max', 'window', 'entryPrefix'],
  decode: toScanned,
  source: `
local out = {}
for _, member in ipairs(redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
  local entry = ARGV[4] .. member
  local r = redis.call('HMGET', entry, 'e', 'x')
  if r[1] then
    out[#out + 1] = member
    out[#out + 1] = 1
    out[#out + 1] = redis.call('HSTRLEN', entry, 'v')
    out[#out + 1] = r[2] or ''
  else
    out[#out + 1] = member
    out[#out + 1] = 0
    out[#out + 1] = 0
    out[#out + 1] = ''
  end
end
return out
`,
});

export interface TopMember {
  key: string;
  hits: number;
  lastAccessAt: number | null;
}

/**
 * The `limit` most read live entries, walking the hits zset (score -hits, so
 * ascending rank is most read first and equal counts come in byte order). A
 * member whose entry is gone, or was written anew and not read since (no
 * field h), is stale: removed when met, at most `maxStale` per call.
 * KEYS: hits index. ARGV: entry prefix, limit, maxStale.
 * Returns flat (member, hits, last read ms or '') triples.
 */
export const topMembers = defineScript({
  name: 'cp_top',
  keys: ['hitsIndex'],
  args: ['entryPrefix', 'limit', 'maxStale'],
  decode: (reply): TopMember[] => {
    const flat = replyArray(reply, 0, 'cp_top');
    const rows: TopMember[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const last = replyString(flat[i + 2], 'cp_top');
      rows.push({
        key: replyString(flat[i], 'cp_top'),
        hits: replyInt(flat[i + 1], 'cp_top'),
        lastAccessAt: last === '' ? null : Number(last),
      });
    }
    return rows;
  },
  source: `
local limit, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
local out, found, start = {}, 0, 0
while found < limit do
  local page = redis.call('ZRANGE', KEYS[1], start, start + limit - 1)
  local removed = 0
  for _, member in ipairs(page) do
    local r = redis.call('HMGET', ARGV[1] .. member, 'h', 'r')
    if r[1] then
      if found < limit then
        out[#out + 1] = member
        out[#out + 1] = r[1]
        out[#out + 1] = r[2] or ''
        found = found + 1
      end
    elseif budget > 0 then
      redis.call('ZREM', KEYS[1], member)
      removed = removed + 1
      budget = budget - 1
    end
  end
  if #page < limit or budget <= 0 then break end
  start = start + #page - removed
end
return out
`,
});

/** Shared Lua: set or remove one existing entry's expiry (as cp_expire does). */
const SET_EXPIRY = `
local function set_expiry(entry, at)
  if at then
    redis.call('HSET', entry, 'x', at)
    redis.call('PEXPIREAT', entry, at)
  else
    redis.call('HDEL', entry, 'x')
    redis.call('PERSIST', entry)
  end
end
`;

export interface ExpireChunkReply {
  updated: number;
  examined: number;
  /** Last member examined ('' when none). */
  last: string;
}

/**
 * One chunk of a bulk expire over a lex range of the keys index: every member
 * whose entry exists gets the new expiry (now + ttl, or none when ttl is '').
 * Announces `expire` with the updated keys.
 * KEYS: keys index. ARGV: min, max, limit, entry prefix, ttl ms or '', channel, announcement head.
 */
export const expireRangeChunk = defineScript({
  name: 'cp_expire_range',
  keys: ['keysIndex'],
  args: ['min', 'max', 'limit', 'entryPrefix', 'ttlMs', 'channel', 'announceHead'],
  decode: (reply): ExpireChunkReply => {
    const [updated, examined, last] = replyArray(reply, 3, 'cp_expire_range');
    return {
      updated: replyInt(updated, 'cp_expire_range'),
      examined: replyInt(examined, 'cp_expire_range'),
      last: replyString(last, 'cp_expire_range'),
    };
  },
  source: `${NOW_MS}${SET_EXPIRY}
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local at = nil
if ARGV[5] ~= '' then at = now_ms() + tonumber(ARGV[5]) end
local updated = {}
for _, member in ipairs(members) do
  local entry = ARGV[4] .. member
  if redis.call('EXISTS', entry) == 1 then
    set_expiry(entry, at)
    updated[#updated + 1] = member
  end
end
if #updated > 0 then redis.call('SPUBLISH', ARGV[6], ARGV[7] .. cjson.encode(updated) .. '}') end
return {#updated, #members, members[#members] or ''}
`,
});

/**
 * One chunk of a bulk expire by tags: each given member whose entry exists,
 * carries `tag` and none of the tags handled before it (so an entry with two
 * of the tags is updated and counted once) gets the new expiry.
 * KEYS: keys index (the namespace's slot). ARGV: entry prefix, ttl ms or '',
 * channel, announcement head, tag, earlier tags (JSON array), members...
 * Returns the number updated.
 */
export const expireTaggedChunk = defineScript({
  name: 'cp_expire_tagged',
  keys: ['keysIndex'],
  args: ['entryPrefix', 'ttlMs', 'channel', 'announceHead', 'tag', 'earlierTags'],
  restArgs: true,
  decode: (reply) => replyInt(reply, 'cp_expire_tagged'),
  source: `${NOW_MS}${SET_EXPIRY}
local at = nil
if ARGV[2] ~= '' then at = now_ms() + tonumber(ARGV[2]) end
local earlier = {}
for _, tag in ipairs(cjson.decode(ARGV[6])) do earlier[tag] = true end
local updated = {}
for i = 7, #ARGV do
  local entry = ARGV[1] .. ARGV[i]
  local tags = redis.call('HGET', entry, 't')
  if tags then
    local has, before = false, false
    for _, tag in ipairs(cjson.decode(tags)) do
      if tag == ARGV[5] then has = true end
      if earlier[tag] then before = true end
    end
    if has and not before then
      set_expiry(entry, at)
      updated[#updated + 1] = ARGV[i]
    end
  end
end
if #updated > 0 then redis.call('SPUBLISH', ARGV[3], ARGV[4] .. cjson.encode(updated) .. '}') end
return #updated
`,
});
