/**
 * Bulk deletes over a namespace's keys index, in chunks of CHUNK members per
 * script call so Redis is never blocked for long: a lex range (deleteByPrefix)
 * and the whole namespace (clear, drop). Shared by the entry store and the
 * namespace admin, so there is one way to empty a namespace.
 */
import type { RedisContext } from './context.js';
import { clearStep, deleteRange } from './entry-scripts.js';
import { announcement } from './change-payload.js';
import { namespaceKeys } from './namespace-keys.js';

/** Members per script call in bulk deletes and index walks. */
export const CHUNK = 500;

/** Deletes a lex range of the keys index chunk by chunk; returns live entries deleted. */
export async function deleteLexRange(
  ctx: RedisContext,
  ns: string,
  min: string,
  max: string,
  operation: string,
  announcement: string,
): Promise<number> {
  const k = namespaceKeys(ctx, ns);
  let deleted = 0;
  for (;;) {
    const chunk = await ctx.run(operation, () =>
      deleteRange.call(ctx.redis, {
        keys: { keysIndex: k.keysIndex },
        args: {
          min,
          max,
          limit: CHUNK,
          entryPrefix: k.entryPrefix,
          tagPrefix: k.tagPrefix,
          channel: k.changes,
          announce: announcement,
        },
      }),
    );
    deleted += chunk.deleted;
    if (chunk.processed < CHUNK) return deleted;
  }
}

/**
 * Empties a namespace (clear) or removes it with its configuration and
 * counters (drop, `dropConfig`), in atomic steps of CHUNK (see clearStep for
 * why writes racing it are either removed or stay fully indexed). Returns the
 * live entries deleted.
 */
export async function clearNamespace(ctx: RedisContext, ns: string, dropConfig = false): Promise<number> {
  const k = namespaceKeys(ctx, ns);
  const operation = dropConfig ? 'drop' : 'clear';
  const announce = announcement(ns, 'clear');
  let deleted = 0;
  for (;;) {
    const step = await ctx.run(operation, () =>
      clearStep.call(ctx.redis, {
        keys: { keysIndex: k.keysIndex, tagNames: k.tagNames, config: k.config, counters: k.counters },
        args: {
          limit: CHUNK,
          entryPrefix: k.entryPrefix,
          tagPrefix: k.tagPrefix,
          dropConfig: dropConfig ? '1' : '0',
          channel: k.changes,
          announce,
        },
      }),
    );
    deleted += step.deleted;
    if (step.done) return deleted;
  }
}
