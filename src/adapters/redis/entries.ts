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
import {
  isBounded,
  resolveTtlLazily,
  resolveWrite,
  resolveWrites,
  validateExpireTtl,
  validateWrite,
  type ResolvedWrite,
} from '../../core/write.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type {
  CacheEntry,
  CacheValue,
  EntryStore,
  IncrementOptions,
  NamespaceConfig,
  SetManyItem,
  SetOptions,
  SetResult,
} from '../../core/port.js';
import {
  toIncrementBy,
  validateBatchSize,
  validateKey,
  validateKeys,
  validateNamespace,
  validatePrefix,
  validateTags,
  validateTtl,
} from '../../core/validation.js';
import { CHUNK, clearNamespace, deleteLexRange } from './bulk-delete.js';
import type { RedisContext } from './context.js';
import { deleteEntries, expireEntry, getEntries, incrementEntry, invalidateTagChunk, setEntry } from './entry-scripts.js';
import type { HitCounter } from './hit-counter.js';
import { announceHead, announcement, keyAnnouncement } from './change-payload.js';
import { entryKey, namespaceKeys, namespaceRegistryKey } from './namespace-keys.js';

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
/** resolveWrite's config for a write that carries its own ttl (the default is not read). */
const TTL_GIVEN = { defaultTtl: null };

type PreparedWrite = ResolvedWrite;

/** Recency is recorded on reads only where it is used: bounded namespaces with LRU eviction. */
export function tracksRecency(config: NamespaceConfig): boolean {
  return isBounded(config);
}

/** Decodes the READ_FIELDS of one entry; undefined when it does not exist. */
function toEntry(row: (Buffer | null)[] | null | false): CacheEntry | undefined {
  if (row === false || !row?.[0]) return undefined;
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
  async function register(ns: string): Promise<void> {
    await redis.zadd(namespaceRegistryKey(ctx), 0, ns);
  }

  async function writeOne(ns: string, w: PreparedWrite): Promise<SetResult> {
    const k = namespaceKeys(ctx, ns);
    const condition = typeof w.condition === 'string' ? w.condition : `etag:${w.condition.etag}`;
    const sample = ++writes % STALE_SAMPLE_EVERY === 0 ? `${STALE_SAMPLE_SIZE}:${Math.random()}` : '';
    const tagsJson = w.tags.length === 0 ? EMPTY_TAGS_JSON : JSON.stringify(w.tags);
    const reply = await setEntry.call(redis, {
      keys: { entry: entryKey(ctx, ns, w.key), keysIndex: k.keysIndex, tagNames: k.tagNames },
      args: {
        value: w.value,
        contentType: w.contentType,
        etag: w.etag,
        tagsJson,
        ttlMs: w.ttl ?? '',
        condition,
        now: Date.now(),
        staleSample: sample,
        channel: k.changes,
        announce: keyAnnouncement(ns, 'set', w.key),
      },
      restArgs: w.tags,
    });
    if (!reply.written) return { written: false };
    if (reply.firstKey) await register(ns);
    return { written: true, etag: w.etag, created: reply.created };
  }

  /** `track`: the namespace's tracksRecency, looked up once by the caller. */
  async function readEntries(ns: string, keys: string[], operation: string, track: boolean): Promise<(CacheEntry | undefined)[]> {
    const reply = await ctx.runCommand(operation, () =>
      getEntries.call(redis, {
        keys: {},
        args: { track: track ? '1' : '0', now: Date.now() },
        restKeys: keys.map((key) => entryKey(ctx, ns, key)),
      }),
    );
    return reply.map((row, i) => count(ns, keys[i] as string, toEntry(row)));
  }

  /** In memory only: the hit counter flushes per-namespace and per-key reads in batches (hit-counter.ts). */
  function count(ns: string, key: string, entry: CacheEntry | undefined): CacheEntry | undefined {
    if (entry) counter.hit(ns, key);
    else counter.miss(ns);
    return entry;
  }

  /**
   * Without recency tracking a get is one plain HMGET: no script, no write.
   * A fresh cached config is taken without awaiting a promise (one await less per get).
   */
  async function get(ns: string, key: string): Promise<CacheEntry | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const config = configs.fresh(ns) ?? (await configs.get(ns));
    if (tracksRecency(config)) return (await readEntries(ns, [key], 'get', true))[0];
    const row = await ctx.runCommand('get', () => redis.hmgetBuffer(entryKey(ctx, ns, key), ...READ_FIELDS));
    return count(ns, key, toEntry(row));
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
    const write = validateWrite(key, value, opts, options.maxValueBytes);
    // The config only gives the default ttl: not consulted when a ttl is given, not awaited when cached.
    const defaults = write.ttl === undefined ? (configs.fresh(ns) ?? (await configs.get(ns))) : TTL_GIVEN;
    return ctx.runCommand('set', () => writeOne(ns, resolveWrite(write, defaults)));
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
    return ctx.runCommand(operation, () =>
      deleteEntries.call(redis, {
        keys: { keysIndex: k.keysIndex },
        args: { tagPrefix: k.tagPrefix, channel: k.changes, announceHead: announceHead(ns, 'delete') },
        restKeys: unique.map((key) => entryKey(ctx, ns, key)),
        restArgs: unique,
      }),
    );
  }

  async function deleteOne(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    return (await deleteKeys(ns, [key], 'delete')) > 0;
  }

  async function has(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    return (await ctx.runCommand('has', () => redis.exists(entryKey(ctx, ns, key)))) === 1;
  }

  async function ttl(ns: string, key: string): Promise<number | null | undefined> {
    validateNamespace(ns);
    validateKey(key);
    const remaining = await ctx.runCommand('ttl', () => redis.pttl(entryKey(ctx, ns, key)));
    if (remaining === -2) return undefined;
    if (remaining === -1) return null;
    return Math.max(1, remaining);
  }

  async function expire(ns: string, key: string, ttlMs: number | null): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    validateExpireTtl(ttlMs);
    const args = {
      ttlMs: ttlMs === null ? '' : ttlMs,
      channel: namespaceKeys(ctx, ns).changes,
      announce: keyAnnouncement(ns, 'expire', key),
    };
    return ctx.runCommand('expire', () => expireEntry.call(redis, { keys: { entry: entryKey(ctx, ns, key) }, args }));
  }

  async function increment(ns: string, key: string, by?: bigint | number, opts: IncrementOptions = {}): Promise<bigint> {
    validateNamespace(ns);
    validateKey(key);
    const delta = toIncrementBy(by);
    validateTtl(opts.ttl);
    const ttlMs = await resolveTtlLazily(opts.ttl, () => configs.get(ns));
    const k = namespaceKeys(ctx, ns);
    const reply = await ctx.runCommand(
      'increment',
      () =>
        incrementEntry.call(redis, {
          keys: { entry: entryKey(ctx, ns, key), keysIndex: k.keysIndex },
          args: {
            member: key,
            by: delta.toString(),
            ttlMs: ttlMs === null ? '' : ttlMs,
            etag: newEtag(),
            now: Date.now(),
            channel: k.changes,
            announce: keyAnnouncement(ns, 'set', key),
          },
        }),
      (code) => (code === 'overflow' ? new IntegerOverflowError(key) : new NotAnIntegerError(key)),
    );
    if (reply.first) await ctx.run('increment', () => register(ns));
    return BigInt(reply.value);
  }

  async function deleteByPrefix(ns: string, prefix: string): Promise<number> {
    validateNamespace(ns);
    validatePrefix(prefix);
    const announce = announcement(ns, 'prefix', { prefix });
    if (prefix === '') return deleteLexRange(ctx, ns, '-', '+', 'deleteByPrefix', announce);
    const upper = prefixUpperBound(prefix);
    return deleteLexRange(ctx, ns, `[${prefix}`, upper === undefined ? '+' : `(${upper}`, 'deleteByPrefix', announce);
  }

  async function invalidateTags(ns: string, tags: string[]): Promise<number> {
    validateNamespace(ns);
    validateTags(tags, 'tags', false);
    const k = namespaceKeys(ctx, ns);
    let deleted = 0;
    for (const tag of new Set(tags)) {
      for (;;) {
        const chunk = await ctx.run('invalidateTags', () =>
          invalidateTagChunk.call(redis, {
            keys: { tagSet: k.tagPrefix + tag, keysIndex: k.keysIndex, tagNames: k.tagNames },
            args: {
              tag,
              limit: CHUNK,
              entryPrefix: k.entryPrefix,
              tagPrefix: k.tagPrefix,
              channel: k.changes,
              announce: announcement(ns, 'tags', { tags: [tag] }),
            },
          }),
        );
        deleted += chunk.deleted;
        if (chunk.popped < CHUNK) break;
      }
    }
    return deleted;
  }

  async function clear(ns: string): Promise<number> {
    validateNamespace(ns);
    return clearNamespace(ctx, ns);
  }

  return { get, getMany, set, setMany, delete: deleteOne, deleteMany, has, ttl, expire, increment, deleteByPrefix, invalidateTags, clear };
}
