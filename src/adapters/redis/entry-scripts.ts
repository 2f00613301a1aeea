/**
 * The Lua scripts of the entry store. Per namespace `ns`, in one cluster slot
 * (hash tag `{ns}`):
 *
 *   P:{ns}:<key>        hash  v (value bytes), c (content type), e (ETag),
 *                             t (tags, JSON array), x (expiry, epoch ms, or
 *                             absent), a (last access, epoch ms); native
 *                             expiry (PEXPIREAT x, so the TTL Redis enforces
 *                             and the expiresAt we report are the same number,
 *                             both on the Redis clock)
 *   P:{ns}#keys         zset  every key, score 0: ZRANGEBYLEX serves prefixes
 *   P:{ns}#tag:<tag>    set   keys written with that tag
 *   P:{ns}#tags         set   tag names in use (for clear/drop)
 *   P:{ns}#hits         zset  approximate reads per key (the hit counter's
 *                             batched flush; the entry hash keeps the same
 *                             count in field h and the last read time in r)
 *   P:{ns}#changes      shard channel: the change feed (see change-feed.ts)
 *
 * Every script that changes entries announces the change on the namespace's
 * channel with SPUBLISH from inside the script, so the announcement is atomic
 * with the change (never for a write that did not happen, never missing for
 * one that did while a subscriber is connected). The caller passes the
 * channel and the JSON payload (or its head, when the script adds the keys it
 * found): payloads are built once in TypeScript, Lua only appends key lists.
 *
 * Redis expires (or, under allkeys-* policies, evicts) entry hashes on its own,
 * so index members may be stale: every script checks EXISTS before counting a
 * member, invalidation checks that the entry still carries the tag, and stale
 * members are removed when met. Keys of entries and tag sets are built inside
 * the scripts from ARGV prefixes that share KEYS[1]'s hash tag, so they always
 * live in the script's slot.
 */
import { defineScript, replyArray, replyInt, replyInts, replyString } from './scripts.js';

export interface SetReply {
  written: boolean;
  created: boolean;
  /** The entry made the keys index non-empty: the namespace got its first key. */
  firstKey: boolean;
}

function toSetReply([written, created, first]: number[]): SetReply {
  return { written: written === 1, created: created === 1, firstKey: first === 1 };
}

/** Shared Lua: the Redis clock in epoch ms (TIME is allowed in scripts since effects replication, Redis 5+). */
export const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Shared Lua: delete one entry and its index memberships; returns 1 if it existed. */
const DELETE_ENTRY = `
local function delete_entry(entry, member, keys_index, tag_prefix)
  local tags = redis.call('HGET', entry, 't')
  redis.call('ZREM', keys_index, member)
  if not tags then return 0 end
  redis.call('ZREM', string.sub(keys_index, 1, -6) .. '#hits', member)
  for _, tag in ipairs(cjson.decode(tags)) do
    redis.call('SREM', tag_prefix .. tag, member)
  end
  redis.call('DEL', entry)
  return 1
end
`;

/**
 * KEYS: entry keys. ARGV: track ('1' → record access time), now.
 * Returns per key nil or {value, contentType, etag, tagsJson, expiresAt or ''}.
 */
export const getEntries = defineScript({
  name: 'cp_get',
  keys: [],
  args: ['track', 'now'],
  restKeys: true,
  buffers: true,
  decode: (r) => replyArray(r, 0, 'cp_get').map((row) => (Array.isArray(row) ? (row as (Buffer | null)[]) : null)),
  source: `
local out = {}
for i, entry in ipairs(KEYS) do
  local r = redis.call('HMGET', entry, 'v', 'c', 'e', 't', 'x')
  if r[1] then
    if ARGV[1] == '1' then redis.call('HSET', entry, 'a', ARGV[2]) end
    out[i] = {r[1], r[2], r[3], r[4], r[5] or ''}
  else
    out[i] = false
  end
end
return out
`,
});

/**
 * KEYS: entry, keys index, tag-names set.
 * ARGV: value, contentType, etag, tagsJson, ttl ('' = none), condition
 *       (always|absent|present|etag:<etag>), now, stale sample
 *       ('' = none, else '<size>:<position 0..1>'), channel, announcement, tags...
 * Returns {written (0/1), created (0/1), firstKey (0/1)}.
 *
 * Kept lean because it is the hot path: every ARGV and every redis.call
 * costs (a no-op EVALSHA with 13 arguments is already ~0.6× of a plain SET).
 * The member, entry prefix and tag prefix are derived from the keys-index
 * name (`P:{ns}#keys`, see namespace-keys.ts) instead of being sent. The
 * entry is overwritten in place (HSET) instead of deleted and re-created, the
 * old entry's tag memberships are dropped only when it had tags, the expiry
 * field is in the same HSET, and the keys index is touched only when the
 * entry is new (a live entry's member is always in the index: members are
 * removed only with their entry or once it is gone). The caller asks for a
 * stale-member sample on 1 write in N: a window of members at a random rank
 * (ZRANGE by rank is O(log n); ZRANDMEMBER costs ~2.5 µs per member), so
 * stale members of expired entries do not pile up in never-pruned namespaces.
 */
export const setEntry = defineScript({
  name: 'cp_set',
  keys: ['entry', 'keysIndex', 'tagNames'],
  args: ['value', 'contentType', 'etag', 'tagsJson', 'ttlMs', 'condition', 'now', 'staleSample', 'channel', 'announce'],
  restArgs: true,
  decode: (r) => toSetReply(replyInts(r, 3, 'cp_set')),
  source: `${NOW_MS}
local entry, keys_index, tag_names = KEYS[1], KEYS[2], KEYS[3]
local base = string.sub(keys_index, 1, -6)
local member, tag_prefix = string.sub(entry, #base + 2), base .. '#tag:'
local condition = ARGV[6]
local old = redis.call('HMGET', entry, 't', 'e', 'x')
local exists = old[2] ~= false
if condition == 'absent' and exists then return {0, 0, 0} end
if condition == 'present' and not exists then return {0, 0, 0} end
if string.sub(condition, 1, 5) == 'etag:' and old[2] ~= string.sub(condition, 6) then return {0, 0, 0} end
if old[1] and old[1] ~= '[]' then
  for _, tag in ipairs(cjson.decode(old[1])) do
    redis.call('SREM', tag_prefix .. tag, member)
  end
end
if ARGV[5] ~= '' then
  local at = now_ms() + tonumber(ARGV[5])
  redis.call('HSET', entry, 'v', ARGV[1], 'c', ARGV[2], 'e', ARGV[3], 't', ARGV[4], 'a', ARGV[7], 'x', at)
  redis.call('PEXPIREAT', entry, at)
else
  redis.call('HSET', entry, 'v', ARGV[1], 'c', ARGV[2], 'e', ARGV[3], 't', ARGV[4], 'a', ARGV[7])
  if old[3] then
    redis.call('HDEL', entry, 'x')
    redis.call('PERSIST', entry)
  end
end
local first = 0
if not exists and redis.call('ZADD', keys_index, 0, member) == 1 and redis.call('ZCARD', keys_index) == 1 then first = 1 end
for i = 11, #ARGV do
  redis.call('SADD', tag_prefix .. ARGV[i], member)
  redis.call('SADD', tag_names, ARGV[i])
end
redis.call('SPUBLISH', ARGV[9], ARGV[10])
if ARGV[8] ~= '' then
  local colon = string.find(ARGV[8], ':', 1, true)
  local size = tonumber(string.sub(ARGV[8], 1, colon - 1))
  local start = math.floor(tonumber(string.sub(ARGV[8], colon + 1)) * redis.call('ZCARD', keys_index))
  for _, sampled in ipairs(redis.call('ZRANGE', keys_index, start, start + size - 1)) do
    if redis.call('EXISTS', base .. ':' .. sampled) == 0 then redis.call('ZREM', keys_index, sampled) end
  end
end
return {1, exists and 0 or 1, first}
`,
});

/**
 * KEYS: keys index, then entry keys. ARGV: tag prefix, channel, announcement
 * head (closed with the deleted keys), then members (same order as the keys).
 * Returns the number of entries that existed.
 */
export const deleteEntries = defineScript({
  name: 'cp_delete',
  keys: ['keysIndex'],
  args: ['tagPrefix', 'channel', 'announceHead'],
  restKeys: true,
  restArgs: true,
  decode: (r) => replyInt(r, 'cp_delete'),
  source: `${DELETE_ENTRY}
local deleted = {}
for i = 2, #KEYS do
  if delete_entry(KEYS[i], ARGV[i + 2], KEYS[1], ARGV[1]) == 1 then deleted[#deleted + 1] = ARGV[i + 2] end
end
if #deleted > 0 then redis.call('SPUBLISH', ARGV[2], ARGV[3] .. cjson.encode(deleted) .. '}') end
return #deleted
`,
});

/**
 * KEYS: entry. ARGV: ttl ('' = remove expiry). Returns 1 when the entry exists.
 * The ETag is kept: only the value's lifetime changes.
 */
export const expireEntry = defineScript({
  name: 'cp_expire',
  keys: ['entry'],
  args: ['ttlMs', 'channel', 'announce'],
  decode: (r) => replyInt(r, 'cp_expire') === 1,
  source: `${NOW_MS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'x')
  redis.call('PERSIST', KEYS[1])
else
  local at = now_ms() + tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'x', at)
  redis.call('PEXPIREAT', KEYS[1], at)
end
redis.call('SPUBLISH', ARGV[2], ARGV[3])
return 1
`,
});

/**
 * KEYS: entry, keys index. ARGV: member, by (decimal int64), ttl ('' = none), etag, now.
 * HINCRBY does the 64-bit arithmetic: it rejects a stored value that is not
 * canonical int64 decimal and a result outside int64, changing nothing. The
 * result is read back with HGET because Lua numbers are doubles (2^53).
 * Returns the new value as a decimal string.
 */
export const incrementEntry = defineScript({
  name: 'cp_incr',
  keys: ['entry', 'keysIndex'],
  args: ['member', 'by', 'ttlMs', 'etag', 'now', 'channel', 'announce'],
  decode: (r) => {
    const [value, first] = replyArray(r, 2, 'cp_incr');
    return { value: replyString(value, 'cp_incr'), first: replyInt(first, 'cp_incr') === 1 };
  },
  source: `${NOW_MS}
local entry, keys_index = KEYS[1], KEYS[2]
local exists = redis.call('EXISTS', entry) == 1
local first = redis.call('ZCARD', keys_index) == 0 and 1 or 0
local r = redis.pcall('HINCRBY', entry, 'v', ARGV[2])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'overflow', 1, true) then return redis.error_reply('CACHEPORT overflow') end
  return redis.error_reply('CACHEPORT not_integer')
end
if exists then
  redis.call('HSET', entry, 'e', ARGV[4], 'a', ARGV[5])
else
  redis.call('HSET', entry, 'c', 'application/octet-stream', 'e', ARGV[4], 't', '[]', 'a', ARGV[5])
  if ARGV[3] ~= '' then
    local at = now_ms() + tonumber(ARGV[3])
    redis.call('HSET', entry, 'x', at)
    redis.call('PEXPIREAT', entry, at)
  end
  redis.call('ZADD', keys_index, 0, ARGV[1])
end
redis.call('SPUBLISH', ARGV[6], ARGV[7])
return {redis.call('HGET', entry, 'v'), first}
`,
});

/**
 * Deletes one chunk of a lex range of the keys index (deleteByPrefix, clear).
 * KEYS: keys index. ARGV: min, max (ZRANGEBYLEX syntax), limit, entry prefix, tag prefix,
 * channel, announcement (published when the chunk deleted an entry).
 * Returns {live entries deleted, members processed}.
 */
export const deleteRange = defineScript({
  name: 'cp_delete_range',
  keys: ['keysIndex'],
  args: ['min', 'max', 'limit', 'entryPrefix', 'tagPrefix', 'channel', 'announce'],
  decode: (r) => {
    const [deleted = 0, processed = 0] = replyInts(r, 2, 'cp_delete_range');
    return { deleted, processed };
  },
  source: `${DELETE_ENTRY}
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, member in ipairs(members) do
  n = n + delete_entry(ARGV[4] .. member, member, KEYS[1], ARGV[5])
end
if n > 0 then redis.call('SPUBLISH', ARGV[6], ARGV[7]) end
return {n, #members}
`,
});

/**
 * Deletes one chunk of a tag's entries. Members are popped from the tag set;
 * an entry is deleted only if it still carries the tag (a key re-written
 * without the tag after its old entry expired leaves a stale member behind).
 * KEYS: tag set, keys index, tag-names set. ARGV: tag, limit, entry prefix, tag prefix,
 * channel, announcement (published when the chunk deleted an entry).
 * Returns {entries deleted, members popped}.
 */
export const invalidateTagChunk = defineScript({
  name: 'cp_invalidate_tag',
  keys: ['tagSet', 'keysIndex', 'tagNames'],
  args: ['tag', 'limit', 'entryPrefix', 'tagPrefix', 'channel', 'announce'],
  decode: (r) => {
    const [deleted = 0, popped = 0] = replyInts(r, 2, 'cp_invalidate_tag');
    return { deleted, popped };
  },
  source: `${DELETE_ENTRY}
local members = redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))
local n = 0
for _, member in ipairs(members) do
  local entry = ARGV[3] .. member
  local tags = redis.call('HGET', entry, 't')
  if tags then
    for _, tag in ipairs(cjson.decode(tags)) do
      if tag == ARGV[1] then
        n = n + delete_entry(entry, member, KEYS[2], ARGV[4])
        break
      end
    end
  else
    redis.call('ZREM', KEYS[2], member) -- the entry is gone: its index member is stale too
  end
end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
if n > 0 then redis.call('SPUBLISH', ARGV[5], ARGV[6]) end
return {n, #members}
`,
});

/**
 * Read-only stats over one chunk of the keys index, in lex order after `cursor`.
 * KEYS: keys index. ARGV: min (ZRANGEBYLEX syntax), limit, entry prefix.
 * Returns {live entries, value bytes, stale members, last member or ''}.
 */
export const statsChunk = defineScript({
  name: 'cp_stats',
  keys: ['keysIndex'],
  args: ['min', 'limit', 'entryPrefix'],
  decode: (r) => {
    const [entries, bytes, stale, last] = replyArray(r, 4, 'cp_stats');
    return {
      entries: replyInt(entries, 'cp_stats'),
      bytes: replyInt(bytes, 'cp_stats'),
      stale: replyInt(stale, 'cp_stats'),
      last: replyString(last, 'cp_stats'),
    };
  },
  source: `
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local entries, bytes, stale = 0, 0, 0
for _, member in ipairs(members) do
  local size = redis.call('HSTRLEN', ARGV[3] .. member, 'v')
  if redis.call('EXISTS', ARGV[3] .. member) == 1 then
    entries = entries + 1
    bytes = bytes + size
  else
    stale = stale + 1
  end
end
local last = ''
if #members == tonumber(ARGV[2]) then last = members[#members] end
return {entries, bytes, stale, last}
`,
});

/**
 * Removes stale members (entry gone: expired or evicted by Redis) from one
 * chunk of the keys index. Same arguments as statsChunk. Returns {removed, last member or ''}.
 */
export const pruneChunk = defineScript({
  name: 'cp_prune',
  keys: ['keysIndex'],
  args: ['min', 'limit', 'entryPrefix'],
  decode: (r) => {
    const [removed, last] = replyArray(r, 2, 'cp_prune');
    return { removed: replyInt(removed, 'cp_prune'), last: replyString(last, 'cp_prune') };
  },
  source: `
local hits_index = string.sub(KEYS[1], 1, -6) .. '#hits'
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local removed = 0
for _, member in ipairs(members) do
  if redis.call('EXISTS', ARGV[3] .. member) == 0 then
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', hits_index, member)
    removed = removed + 1
  end
end
local last = ''
if #members == tonumber(ARGV[2]) then last = members[#members] end
return {removed, last}
`,
});

/**
 * Approximate LRU eviction, as Redis itself does it: sample members of the
 * keys index, drop stale ones, evict the least recently accessed (field `a`)
 * of the sample; repeat while over maxEntries or short of bytesToFree.
 * KEYS: keys index. ARGV: maxEntries ('' = none), bytesToFree, max evictions
 * in this call, sample size, entry prefix, tag prefix, channel, announcement
 * head (closed with the evicted keys).
 * Returns {evicted, bytes freed, done (1 when within bounds)}.
 */
export const evictChunk = defineScript({
  name: 'cp_evict',
  keys: ['keysIndex'],
  args: ['maxEntries', 'bytesToFree', 'budget', 'sample', 'entryPrefix', 'tagPrefix', 'channel', 'announceHead'],
  decode: (r) => {
    const [evicted = 0, freed = 0, done = 0] = replyInts(r, 3, 'cp_evict');
    return { evicted, freed, done: done === 1 };
  },
  source: `${DELETE_ENTRY}
local max_entries = tonumber(ARGV[1])
local to_free = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local sample = tonumber(ARGV[4])
local evicted, freed, done = 0, 0, 0
local victims = {}
while budget > 0 do
  local over_entries = max_entries and redis.call('ZCARD', KEYS[1]) > max_entries
  if not over_entries and freed >= to_free then done = 1 break end
  local members = redis.call('ZRANDMEMBER', KEYS[1], sample)
  if #members == 0 then done = 1 break end
  local victim, victim_at, victim_size = nil, nil, 0
  for _, member in ipairs(members) do
    local entry = ARGV[5] .. member
    local r = redis.call('HMGET', entry, 'a', 'e')
    if not r[2] then
      redis.call('ZREM', KEYS[1], member)
    else
      local at = tonumber(r[1]) or 0
      if victim_at == nil or at < victim_at then victim, victim_at = member, at end
    end
  end
  if victim then
    victim_size = redis.call('HSTRLEN', ARGV[5] .. victim, 'v')
    delete_entry(ARGV[5] .. victim, victim, KEYS[1], ARGV[6])
    evicted = evicted + 1
    freed = freed + victim_size
    victims[#victims + 1] = victim
  end
  budget = budget - 1
end
if evicted > 0 then redis.call('SPUBLISH', ARGV[7], ARGV[8] .. cjson.encode(victims) .. '}') end
return {evicted, freed, done}
`,
});

/**
 * Stores a namespace's configuration. KEYS: config hash. ARGV: field, value pairs.
 * Returns 1 when the namespace had no configuration before.
 */
export const configureNamespace = defineScript({
  name: 'cp_configure',
  keys: ['config'],
  args: [],
  restArgs: true,
  decode: (r) => replyInt(r, 'cp_configure') === 1,
  source: `
local created = redis.call('EXISTS', KEYS[1]) == 0 and 1 or 0
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return created
`,
});

/**
 * One step of emptying a namespace (clear, drop); the caller repeats it until
 * `done`. Deletes up to `limit` index members with their entries; once the
 * index is empty, deletes up to `limit` tag sets; once no tag name is left and
 * `dropConfig` is '1', deletes the configuration and hit counters too. Tag sets
 * and configuration go only in a step that found the index empty: every live
 * entry is in the index, so at that moment the tag sets hold only stale
 * members, and a write racing the operation either lands before such a step
 * (its member is in the index, so the step deletes it) or after it (indexed,
 * tagged and counted as usual). Never an entry outside the indexes.
 * Returns {live entries deleted, done (0/1)}.
 */
export const clearStep = defineScript({
  name: 'cp_clear_step',
  keys: ['keysIndex', 'tagNames', 'config', 'counters'],
  args: ['limit', 'entryPrefix', 'tagPrefix', 'dropConfig', 'channel', 'announce'],
  decode: (r) => {
    const [deleted = 0, done = 0] = replyInts(r, 2, 'cp_clear_step');
    return { deleted, done: done === 1 };
  },
  source: `${DELETE_ENTRY}
local limit = tonumber(ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, limit - 1)
local n = 0
for _, member in ipairs(members) do
  n = n + delete_entry(ARGV[2] .. member, member, KEYS[1], ARGV[3])
end
if n > 0 then redis.call('SPUBLISH', ARGV[5], ARGV[6]) end
if #members == limit then return {n, 0} end
local tags = redis.call('SPOP', KEYS[2], limit)
for _, tag in ipairs(tags) do
  redis.call('DEL', ARGV[3] .. tag)
end
if #tags == limit then return {n, 0} end
redis.call('DEL', string.sub(KEYS[1], 1, -6) .. '#hits')
if ARGV[4] == '1' then redis.call('DEL', KEYS[3], KEYS[4]) end
return {n, 1}
`,
});
