/**
 * Bulk deletes over a namespace's keys index, in chunks of CHUNK members per
 * script call so Redis is never blocked for long: a lex range (deleteByPrefix)
 * and the whole namespace (clear, drop). Shared by the entry store and the
 * namespace admin, so there is one way to empty a namespace.
 */
import type { RedisContext } from './context.js';
import { deleteRange } from './entry-scripts.js';
import { namespaceKeys } from './namespace-keys.js';

/** Members per script call in bulk deletes and index walks. */
export const CHUNK = 500;

/** Deletes a lex range of the keys index chunk by chunk; returns live entries deleted. */
export async function deleteLexRange(ctx: RedisContext, ns: string, min: string, max: string, operation: string): Promise<number> {
  const k = namespaceKeys(ctx, ns);
  let deleted = 0;
  for (;;) {
    const chunk = await ctx.run(operation, () => deleteRange.call(ctx.redis, {
      keys: { keysIndex: k.keysIndex }, args: { min, max, limit: CHUNK, entryPrefix: k.entryPrefix, tagPrefix: k.tagPrefix },
    }));
    deleted += chunk.deleted;
    if (chunk.processed < CHUNK) return deleted;
  }
}

/** Deletes every entry, then the tag sets (they may hold stale members of expired entries). */
export async function clearNamespace(ctx: RedisContext, ns: string): Promise<number> {
  const deleted = await deleteLexRange(ctx, ns, '-', '+', 'clear');
  const k = namespaceKeys(ctx, ns);
  for (;;) {
    const tags = await ctx.run('clear', () => ctx.redis.spop(k.tagNames, CHUNK));
    if (tags.length > 0) await ctx.run('clear', () => ctx.redis.del(...tags.map((tag) => k.tagPrefix + tag)));
    if (tags.length < CHUNK) return deleted;
  }
}
