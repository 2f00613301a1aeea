/**
 * Entries on Redis: each operation is one Lua script (or one plain command)
 * over the namespace's slot; see entry-scripts.ts for the layout.
 *
 * An entry is a hash (value, content type, ETag, tags, last access) rather
 * than one packed string: a get is still one HMGET (Redis keeps small hashes
 * as a compact listpack anyway), increment can HINCRBY the value in place with
 * Redis's own int64 checks, and the fields stay readable with redis-cli.
 *
 * Bulk operations over many members (deleteByPrefix, invalidateTags, clear)
 * run in chunks of CHUNK members per script call, so Redis is never blocked
 * for long; each chunk is atomic, the whole operation is not (like Postgres's
 * statements under concurrent writers, a key written meanwhile may survive).
 */
import { IntegerOverflowError, NotAnIntegerError, ValidationError } from '../../core/errors.js';
import { newEtag } from '../../core/etag.js';
import { prefixUpperBound } from '../../core/keys.js';
import { isBounded, resolveTtlLazily, resolveWrites, validateExpireTtl, validateWrite, type ResolvedWrite } from '../../core/write.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { CacheEntry, CacheValue, EntryStore, IncrementOptions, NamespaceConfig, SetManyItem, SetOptions, SetResult } from '../../core/port.js';
import {
  toIncrementBy, validateBatchSize, validateKey, validateKeys,
  validateNamespace, validatePrefix, validateTags, validateTtl,
} from '../../core/validation.js';
import type { RedisContext } from './context.js';
import {
  deleteEntries, deleteRange, expireEntry, getEntries, incrementEntry, invalidateTagChunk, setEntry,
} from './entry-scripts.js';
import type { HitCounter } from './hit-counter.js';
import { namespaceKeys, namespaceRegistryKey } from './namespace-keys.js';

/** Members per script call in bulk deletes. */
export const CHUNK = 500;
/**
 * 1 write in STALE_SAMPLE_EVERY checks STALE_SAMPLE_SIZE index members (a
 * window at a random rank) and drops stale ones: on average 2 members per write (enough to keep stale
 * members at most about as many as live ones when every write adds a key
 * that later expires), without the sampling cost on every write.
 */
const STALE_SAMPLE_EVERY = 8;
const STALE_SAMPLE_SIZE = 16;
/** Fields of an entry hash a read returns, in this order. */
const READ_FIELDS = ['v', 'c', 'e', 't', 'x'] as const;
const EMPTY_TAGS_JSON = '[]';

type PreparedWrite = ResolvedWrite;

/** Recency is recorded on reads only where it is used: bounded namespaces with LRU eviction. */
export function tracksRecency(config: NamespaceConfig): boolean {
  return isBounded(config);
}

/** Decodes the READ_FIELDS of one entry; undefined when it does not exist. */
function toEntry(row: (Buffer | null)[] | null | false): CacheEntry | undefined {
  if (!row || !row[0]) return undefined;
  const [value, contentType, etag, tags, expiresAt] = row as [Buffer, Buffer, Buffer, Buffer, Buffer | null];
  const tagsJson = tags.toString();
  return {
    value,
    contentType: contentType.toString(),
    etag: etag.toString(),
    expiresAt: expiresAt && expiresAt.length > 0 ? Number(expiresAt.toString()) : null,
    tags: tagsJson === EMPTY_TAGS_JSON ? [] : (JSON.parse(tagsJson) as string[]),
  };
}

export function createRedisEntryStore(ctx: RedisContext, configs: NamespaceConfigCache, counter: HitCounter): EntryStore {
  const { redis, options } = ctx;
  let writes = 0;

  /** The first key of a namespace registers it for list(); cheap and idempotent. */
  async function register(ns: string, first: unknown): Promise<void> {
    if (first === 1 || first === '1') await redis.sadd(namespaceRegistryKey(ctx), ns);
  }


  async function writeOne(ns: string, w: PreparedWrite): Promise<SetResult> {
    const k = namespaceKeys(ctx, ns);
    const condition = typeof w.condition === 'string' ? w.condition : `etag:${w.condition.etag}`;
    const sample = ++writes % STALE_SAMPLE_EVERY === 0 ? `${STALE_SAMPLE_SIZE}:${Math.random()}` : '';
    const tagsJson = w.tags.length === 0 ? EMPTY_TAGS_JSON : JSON.stringify(w.tags);
    const reply = (await setEntry.run(redis, [k.entryPrefix + w.key, k.keysIndex, k.tagNames], [
      w.value, w.contentType, w.etag, tagsJson, w.ttl ?? '', condition, Date.now(), sample, ...w.tags,
    ])) as [number, number, number];
    if (reply[0] !== 1) return { written: false };
    await register(ns, reply[2]);
    return { written: true, etag: w.etag, created: reply[1] === 1 };
  }

  /** `track`: the namespace's tracksRecency, looked up once by the caller. */
  async function readEntries(ns: string, keys: string[], operation: string, track: boolean): Promise<(CacheEntry | undefined)[]> {
    const reply = await ctx.runCommand(operation, () =>
      getEntries.runBuffer(redis, keys.map((key) => ctx.key(ns, key)), [track ? '1' : '0', Date.now()]));
    return (reply as (Buffer[] | null)[]).map((row) => count(ns, toEntry(row)));
  }

  function count(ns: string, entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry) counter.hit(ns);
    else counter.miss(ns);
    return entry;
  }

  /** Without recency tracking a get is one plain HMGET: no script, no write. */
  async function get(ns: string, key: string): Promise<CacheEntry | undefined> {
    validateNamespace(ns);
    validateKey(key);
    if (tracksRecency(await configs.get(ns))) return (await readEntries(ns, [key], 'get', true))[0];
    const row = await ctx.runCommand('get', () => redis.hmgetBuffer(ctx.key(ns, key), ...READ_FIELDS));
    return count(ns, toEntry(row));
  }

  async function getMany(ns: string, keys: string[]): Promise<(CacheEntry | undefined)[]> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    if (keys.length === 0) return [];
    return readEntries(ns, keys, 'getMany', tracksRecency(await configs.get(ns)));
  }

  async function set(ns: string, key: string, value: CacheValue, opts: SetOptions = {}): Promise<SetResult> {
    validateNamespace(ns);
    const [write] = await resolveWrites([validateWrite(key, value, opts, options.maxValueBytes)], () => configs.get(ns));
    return ctx.runCommand('set', () => writeOne(ns, write as PreparedWrite));
  }

  async function setMany(ns: string, items: SetManyItem[]): Promise<SetResult[]> {
    validateNamespace(ns);
    if (!Array.isArray(items)) throw new ValidationError({ name: 'items', reason: 'must be an array' });
    validateBatchSize(items.length, options.maxBatch, 'items');
    const pending = [];
    for (const [i, item] of items.entries()) {
      pending.push(validateWrite(item.key, item.value, item, options.maxValueBytes, `items[${i}].`));
    }
    if (pending.length === 0) return [];
    const writes = await resolveWrites(pending, () => configs.get(ns));
    // Sent back to back on one connection (one slot): one round trip, applied in order.
    return ctx.run('setMany', () => Promise.all(writes.map((w) => writeOne(ns, w))));
  }

  async function deleteMany(ns: string, keys: string[]): Promise<number> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    return deleteKeys(ns, keys, 'deleteMany');
  }

  async function deleteKeys(ns: string, keys: string[], operation: string): Promise<number> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    const k = namespaceKeys(ctx, ns);
    const reply = await ctx.runCommand(operation, () =>
      deleteEntries.run(redis, [k.keysIndex, ...unique.map((key) => ctx.key(ns, key))], [k.tagPrefix, ...unique]));
    return Number(reply);
  }

  async function deleteOne(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    return (await deleteKeys(ns, [key], 'delete')) > 0;
  }

  async function has(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    return (await ctx.runCommand('has', () => redis.exists(ctx.key(ns, key)))) === 1;
  }

  async function ttl(ns: string, key: string): Promise<number | null | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const remaining = await ctx.runCommand('ttl', () => redis.pttl(ctx.key(ns, key)));
    if (remaining === -2) return undefined;
    if (remaining === -1) return null;
    return Math.max(1, remaining);
  }

  async function expire(ns: string, key: string, ttlMs: number | null): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    validateExpireTtl(ttlMs);
    const reply = await ctx.runCommand('expire', () => expireEntry.run(redis, [ctx.key(ns, key)], [ttlMs === null ? '' : ttlMs]));
    return Number(reply) === 1;
  }

  async function increment(ns: string, key: string, by?: bigint | number, opts: IncrementOptions = {}): Promise<bigint> {
    validateNamespace(ns);
    validateKey(key);
    const delta = toIncrementBy(by);
    validateTtl(opts.ttl);
    const ttlMs = await resolveTtlLazily(opts.ttl, () => configs.get(ns));
    const k = namespaceKeys(ctx, ns);
    const reply = (await ctx.runCommand(
      'increment',
      () => incrementEntry.run(redis, [ctx.key(ns, key), k.keysIndex], [key, delta.toString(), ttlMs === null ? '' : ttlMs, newEtag(), Date.now()]),
      (code) => (code === 'overflow' ? new IntegerOverflowError(key) : new NotAnIntegerError(key)),
    )) as [string, number];
    if (reply[1] === 1) await ctx.run('increment', () => register(ns, reply[1]));
    return BigInt(reply[0]);
  }

  /** Deletes a lex range of the keys index chunk by chunk; returns live entries deleted. */
  async function deleteLexRange(ns: string, min: string, max: string, operation: string): Promise<number> {
    const k = namespaceKeys(ctx, ns);
    let deleted = 0;
    for (;;) {
      const [n, processed] = (await ctx.run(operation, () =>
        deleteRange.run(redis, [k.keysIndex], [min, max, CHUNK, k.entryPrefix, k.tagPrefix]))) as [number, number];
      deleted += n;
      if (processed < CHUNK) return deleted;
    }
  }

  async function deleteByPrefix(ns: string, prefix: string): Promise<number> {
    validateNamespace(ns);
    validatePrefix(prefix);
    if (prefix === '') return deleteLexRange(ns, '-', '+', 'deleteByPrefix');
    const upper = prefixUpperBound(prefix);
    return deleteLexRange(ns, `[${prefix}`, upper === undefined ? '+' : `(${upper}`, 'deleteByPrefix');
  }

  async function invalidateTags(ns: string, tags: string[]): Promise<number> {
    validateNamespace(ns);
    validateTags(tags, 'tags', false);
    const k = namespaceKeys(ctx, ns);
    let deleted = 0;
    for (const tag of new Set(tags)) {
      for (;;) {
        const [n, popped] = (await ctx.run('invalidateTags', () =>
          invalidateTagChunk.run(redis, [k.tagPrefix + tag, k.keysIndex, k.tagNames], [tag, CHUNK, k.entryPrefix, k.tagPrefix]))) as [number, number];
        deleted += n;
        if (popped < CHUNK) break;
      }
    }
    return deleted;
  }

  async function clear(ns: string): Promise<number> {
    validateNamespace(ns);
    return clearNamespace(ctx, ns, deleteLexRange);
  }

  return { get, getMany, set, setMany, delete: deleteOne, deleteMany, has, ttl, expire, increment, deleteByPrefix, invalidateTags, clear };
}

type LexRangeDeleter = (ns: string, min: string, max: string, operation: string) => Promise<number>;

/** Deletes every entry, then the tag sets (they may hold stale members of expired entries). */
async function clearNamespace(ctx: RedisContext, ns: string, deleteLexRange: LexRangeDeleter): Promise<number> {
  const deleted = await deleteLexRange(ns, '-', '+', 'clear');
  const k = namespaceKeys(ctx, ns);
  for (;;) {
    const tags = await ctx.run('clear', () => ctx.redis.spop(k.tagNames, CHUNK));
    if (tags.length > 0) await ctx.run('clear', () => ctx.redis.del(...tags.map((tag) => k.tagPrefix + tag)));
    if (tags.length < CHUNK) return deleted;
  }
}
