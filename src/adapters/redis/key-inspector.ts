/**
 * Key listings, top entries and bulk expire on Redis (KeyInspector), over
 * the namespace's keys index (a zset with every score 0, so ZRANGEBYLEX walks
 * it in byte order) and its hits zset. Scripts in key-scripts.ts; paging rule
 * in core/key-listing.ts.
 */
import { prefixUpperBound } from '../../core/keys.js';
import {
  compareKeyBytes,
  EXPIRE_BATCH,
  prepareExpireScope,
  prepareKeyList,
  prepareTop,
  scanWindow,
  toKeyPage,
} from '../../core/key-listing.js';
import type { ExpireManyFilter, KeyInspector, KeyListOptions, KeyPage, TopEntry } from '../../core/port.js';
import { validateNamespace } from '../../core/validation.js';
import { validateExpireTtl } from '../../core/write.js';
import { announceHead } from './change-payload.js';
import type { RedisContext } from './context.js';
import type { HitCounter } from './hit-counter.js';
import { expireRangeChunk, expireTaggedChunk, listKeysWindow, topMembers } from './key-scripts.js';
import { namespaceKeys } from './namespace-keys.js';

/** Stale hits-zset members one top() call may remove (entries gone since their last read). */
const TOP_MAX_STALE = 1000;

/** ZRANGEBYLEX bounds of a literal prefix ('' = every key), resuming after `after`. */
function lexRange(prefix: string, after: string | undefined): { min: string; max: string } {
  const upper = prefix === '' ? undefined : prefixUpperBound(prefix);
  const max = upper === undefined ? '+' : `(${upper}`;
  if (after !== undefined && compareKeyBytes(after, prefix) >= 0) return { min: `(${after}`, max };
  return { min: prefix === '' ? '-' : `[${prefix}`, max };
}

export function createRedisKeyInspector(ctx: RedisContext, counter: HitCounter): KeyInspector {
  const { redis } = ctx;

  async function listKeys(ns: string, opts?: KeyListOptions): Promise<KeyPage> {
    const request = prepareKeyList(ns, opts);
    const k = namespaceKeys(ctx, ns);
    const window = scanWindow(request.limit);
    const { min, max } = lexRange(request.prefix, request.after);
    const scanned = await ctx.run('listKeys', () =>
      listKeysWindow.call(redis, { keys: { keysIndex: k.keysIndex }, args: { min, max, window, entryPrefix: k.entryPrefix } }),
    );
    return toKeyPage(scanned, request.limit, window);
  }

  async function top(ns: string, opts?: { limit?: number }): Promise<TopEntry[]> {
    const limit = prepareTop(ns, opts);
    // This process's reads count from the call on: write out what the counter holds.
    await counter.flush();
    const k = namespaceKeys(ctx, ns);
    const rows = await ctx.run('top', () =>
      topMembers.call(redis, { keys: { hitsIndex: k.hitsIndex }, args: { entryPrefix: k.entryPrefix, limit, maxStale: TOP_MAX_STALE } }),
    );
    // The zset's order already is (hits desc, key bytes asc); its score may lag the entry's h by one flush elsewhere.
    return rows.sort((a, b) => b.hits - a.hits || compareKeyBytes(a.key, b.key));
  }

  async function expireMany(ns: string, ttl: number | null, filter?: ExpireManyFilter): Promise<number> {
    validateNamespace(ns);
    validateExpireTtl(ttl);
    const scope = prepareExpireScope(filter);
    const ttlMs = ttl === null ? '' : ttl;
    if (scope.kind === 'tags') return expireTagged(ns, ttlMs, scope.tags);
    const prefix = scope.kind === 'prefix' ? scope.prefix : '';
    const k = namespaceKeys(ctx, ns);
    let updated = 0;
    let after: string | undefined;
    for (;;) {
      const { min, max } = lexRange(prefix, after);
      const chunk = await ctx.run('expireMany', () =>
        expireRangeChunk.call(redis, {
          keys: { keysIndex: k.keysIndex },
          args: {
            min,
            max,
            limit: EXPIRE_BATCH,
            entryPrefix: k.entryPrefix,
            ttlMs,
            channel: k.changes,
            announceHead: announceHead(ns, 'expire'),
          },
        }),
      );
      updated += chunk.updated;
      if (chunk.examined < EXPIRE_BATCH) return updated;
      after = chunk.last;
    }
  }

  /**
   * Each tag's set is walked with SSCAN (in the client: a script may not run
   * long), chunk by chunk; SSCAN may return a member twice, so members are
   * remembered per tag (memory O(members of the tag)).
   */
  async function expireTagged(ns: string, ttlMs: number | '', tags: string[]): Promise<number> {
    const k = namespaceKeys(ctx, ns);
    let updated = 0;
    for (const [i, tag] of tags.entries()) {
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [next, members] = await ctx.run('expireMany', () => redis.sscan(k.tagPrefix + tag, cursor, 'COUNT', EXPIRE_BATCH));
        cursor = next;
        const fresh = members.filter((member) => !seen.has(member));
        for (const member of fresh) seen.add(member);
        if (fresh.length === 0) continue;
        updated += await ctx.run('expireMany', () =>
          expireTaggedChunk.call(redis, {
            keys: { keysIndex: k.keysIndex },
            args: {
              entryPrefix: k.entryPrefix,
              ttlMs,
              channel: k.changes,
              announceHead: announceHead(ns, 'expire'),
              tag,
              earlierTags: JSON.stringify(tags.slice(0, i)),
            },
            restArgs: fresh,
          }),
        );
      } while (cursor !== '0');
    }
    return updated;
  }

  return { listKeys, top, expireMany };
}
