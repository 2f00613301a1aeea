/**
 * The Lua side of Redis channels: one stream per channel
 * (`prefix:chan:{<channel>}`, see channels.ts). Both scripts trim by time
 * first (XTRIM MINID on the server clock), so a message past retention is
 * gone for every reader whether or not anyone published since, and Redis
 * records the newest id trimmed (`max-deleted-entry-id`, Redis 7), from
 * which a reader learns of a gap.
 */
import { defineScript, replyArray, replyOptionalString, replyString } from './scripts.js';

/**
 * Trims the stream (KEYS[1]) to what retention (ARGV[2] ms, on the server
 * clock) and `keep` allow, oldest first, and records the newest id removed
 * in KEYS[2]. Redis 7.0 does not count XTRIM in `max-deleted-entry-id`, so
 * the scripts keep that watermark themselves.
 */
const TRIM = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = string.format('%d-0', now - tonumber(ARGV[2]))
local function later(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
local function trim(keep)
  local gone = false
  local expired = redis.call('XREVRANGE', KEYS[1], '(' .. cutoff, '-', 'COUNT', 1)
  if #expired > 0 then gone = expired[1][1] end
  local excess = redis.call('XLEN', KEYS[1]) - keep
  if excess > 0 then
    local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
    local id = oldest[#oldest][1]
    if not gone or later(id, gone) then gone = id end
  end
  if gone then
    redis.call('XTRIM', KEYS[1], 'MINID', cutoff)
    if excess > 0 then redis.call('XTRIM', KEYS[1], 'MAXLEN', keep) end
    -- SET drops any ttl: the watermark lapses with its stream (a read trims too, and no publish may follow).
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('SET', KEYS[2], gone, 'PX', ttl) else redis.call('SET', KEYS[2], gone) end
  end
end`;

/**
 * ARGV: data JSON, retention ms, max messages, forget ms. Trims to leave
 * room for one more, appends, and lets both keys (with the stream's last id
 * and the watermark) lapse a day after the last publish. The id.
 */
export const publishScript = defineScript({
  name: 'channel_publish',
  keys: ['stream', 'gone'],
  args: ['json', 'retentionMs', 'maxMessages', 'forgetMs'],
  decode: (r) => replyString(r, 'channel_publish'),
  source: `${TRIM}
trim(tonumber(ARGV[3]) - 1)
local id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
local ttl = tonumber(ARGV[2]) + tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ttl) end
return id`,
});

export interface StreamRead {
  /** last-generated-id, or null when the stream does not exist. */
  last: string | null;
  /** The newest id trimmed, or null when none. */
  gone: string | null;
  entries: [string, string][];
}

function decodeEntries(reply: unknown): [string, string][] {
  return replyArray(reply, 0, 'channel_read').map((entry) => {
    const [id, fields] = replyArray(entry, 2, 'channel_read');
    const values = replyArray(fields, 2, 'channel_read');
    return [replyString(id, 'channel_read'), replyString(values[1], 'channel_read')];
  });
}

/**
 * ARGV: after (`` = only the ids), retention ms, count, max messages.
 * Trims as publish does (so a message past retention is gone for readers
 * even when nobody publishes), then returns {last, gone, entries after
 * `after`} (nil last when the stream does not exist).
 */
export const readScript = defineScript({
  name: 'channel_read',
  keys: ['stream', 'gone'],
  args: ['after', 'retentionMs', 'count', 'maxMessages'],
  decode: (r): StreamRead => {
    const [last, gone, entries] = replyArray(r, 3, 'channel_read');
    return {
      last: replyOptionalString(last ?? null, 'channel_read'),
      gone: replyOptionalString(gone ?? null, 'channel_read'),
      entries: decodeEntries(entries),
    };
  },
  source: `if redis.call('EXISTS', KEYS[1]) == 0 then return {false, false, {}} end
${TRIM}
trim(tonumber(ARGV[4]))
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last = false
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
local gone = redis.call('GET', KEYS[2])
if ARGV[1] == '' then return {last, gone, {}} end
return {last, gone, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[3])}`,
});
