/**
 * Lua scripts run by SHA (EVALSHA) with a fallback to EVAL when the server
 * answers NOSCRIPT (after a restart, a failover, or on a cluster node that has
 * not seen the script yet). EVAL caches the script, so the fallback happens at
 * most once per script per server. Same behaviour as ioredis `defineCommand`,
 * but typed and usable on both Redis and Cluster clients.
 *
 * Usage (at module level, so the SHA is computed once):
 *
 *   const acquire = new LuaScript('lock_acquire', 2, `... KEYS[1] ... ARGV[1] ...`);
 *   const reply = await ctx.run('acquire', () => acquire.run(ctx.redis, [k1, k2], [token, ttl]));
 *
 * Rules for script authors:
 * - Every key a script touches must be passed in KEYS and, for Redis Cluster,
 *   share one hash tag: build them with ctx.nsKey / ctx.key (namespace slot) or
 *   ctx.sysKey with the same `tag`.
 * - To report a domain failure, `return redis.error_reply('CACHEPORT <code>')`
 *   and map `<code>` with the third argument of ctx.run (see context.ts).
 * - Integers above 2^53 must travel as strings: Lua numbers are doubles.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.js';

export type ScriptArg = string | Buffer | number;

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    /** null: any number of keys (e.g. one per entry of a batch). */
    readonly numberOfKeys: number | null,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Bulk replies come back as strings (UTF-8 decoded). */
  run(redis: RedisClient, keys: string[], args: ScriptArg[]): Promise<unknown> {
    this.checkKeys(keys);
    return redis
      .evalsha(this.sha, keys.length, ...keys, ...args)
      .catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return redis.eval(this.source, keys.length, ...keys, ...args);
      });
  }

  /** Bulk replies come back as Buffers: use for scripts returning stored values. */
  runBuffer(redis: RedisClient, keys: string[], args: ScriptArg[]): Promise<unknown> {
    this.checkKeys(keys);
    return redis
      .callBuffer('evalsha', [this.sha, keys.length, ...keys, ...args])
      .catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return redis.callBuffer('eval', [this.source, keys.length, ...keys, ...args]);
      });
  }

  private checkKeys(keys: string[]): void {
    if (this.numberOfKeys !== null && keys.length !== this.numberOfKeys) {
      throw new Error(`script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
