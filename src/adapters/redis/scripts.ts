/**
 * Lua scripts run by SHA (EVALSHA) with a fallback to EVAL when the server
 * answers NOSCRIPT (after a restart, a failover, or on a cluster node that has
 * not seen the script yet). EVAL caches the script, so the fallback happens at
 * most once per script per server. Same behaviour as ioredis `defineCommand`,
 * but typed and usable on both Redis and Cluster clients.
 *
 * Every script is declared with `defineScript` at module level (the SHA is
 * computed once): the names of its KEYS and ARGV, in the order the Lua source
 * reads them, and a decoder for its reply. Callers pass named keys and
 * arguments and get a typed reply, so the order lives in one declaration:
 *
 *   const acquire = defineScript({
 *     name: 'lock_acquire', keys: ['lease', 'fence'], args: ['tokenHash', 'ttlMs'],
 *     source: `... KEYS[1] ... ARGV[2] ...`, decode: (r) => ...,
 *   });
 *   const lease = await ctx.run('acquire', () => acquire.call(ctx.redis, { keys: {...}, args: {...} }));
 *
 * Rules for script authors:
 * - Every key a script touches must be passed in KEYS and, for Redis Cluster,
 *   share one hash tag: build them with namespaceKeys / entryKey (namespace slot) or
 *   ctx.sysKey with the same `tag`.
 * - To report a domain failure, `return redis.error_reply('CACHEPORT <code>')`
 *   and map `<code>` with the third argument of ctx.run (see context.ts).
 * - Integers above 2^53 must travel as strings: Lua numbers are doubles.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.js';

export type ScriptArg = string | Buffer | number;

/** A script's named inputs; `restKeys` / `restArgs` follow the named ones (variadic scripts only). */
export interface ScriptInput<K extends string, A extends string> {
  keys: Record<K, string>;
  args: Record<A, ScriptArg>;
  restKeys?: readonly string[];
  restArgs?: readonly ScriptArg[];
}

export interface ScriptSpec<K extends string, A extends string, R> {
  name: string;
  /** KEYS[1..n] in order. */
  keys: readonly K[];
  /** ARGV[1..n] in order. */
  args: readonly A[];
  /** The script also takes any number of keys / args after the named ones. */
  restKeys?: boolean;
  restArgs?: boolean;
  /** Bulk replies as Buffers (scripts returning stored values) instead of UTF-8 strings. */
  buffers?: boolean;
  source: string;
  /** Turns the raw reply into the script's typed result; throws on a reply of the wrong shape. */
  decode: (reply: unknown) => R;
}

export class TypedScript<K extends string, A extends string, R> {
  readonly sha: string;

  constructor(private readonly spec: ScriptSpec<K, A, R>) {
    this.sha = createHash('sha1').update(spec.source).digest('hex');
  }

  get name(): string {
    return this.spec.name;
  }

  /** Builds EVALSHA's arguments in one array (keys, then args, in spec order); on NOSCRIPT the same array runs as EVAL. */
  async call(redis: RedisClient, input: ScriptInput<K, A>): Promise<R> {
    const { spec } = this;
    if ((input.restKeys !== undefined && !spec.restKeys) || (input.restArgs !== undefined && !spec.restArgs)) {
      throw new Error(`script ${spec.name} takes no extra keys or arguments`);
    }
    const command: ScriptArg[] = [this.sha, 0];
    for (const name of spec.keys) command.push(input.keys[name]);
    if (input.restKeys !== undefined) for (const key of input.restKeys) command.push(key);
    command[1] = command.length - 2;
    for (const name of spec.args) command.push(input.args[name]);
    if (input.restArgs !== undefined) for (const arg of input.restArgs) command.push(arg);
    let raw: unknown;
    try {
      raw = await this.send(redis, 'evalsha', command);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      command[0] = spec.source;
      raw = await this.send(redis, 'eval', command);
    }
    return spec.decode(raw);
  }

  private send(redis: RedisClient, name: 'evalsha' | 'eval', command: ScriptArg[]): Promise<unknown> {
    return this.spec.buffers ? redis.callBuffer(name, command) : redis.call(name, command);
  }
}

export function defineScript<K extends string, A extends string, R>(spec: ScriptSpec<K, A, R>): TypedScript<K, A, R> {
  return new TypedScript(spec);
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

// ---------------------------------------------------------------- reply decoders

function badReply(what: string, reply: unknown): Error {
  return new Error(`unexpected script reply for ${what}: ${JSON.stringify(reply)?.slice(0, 200)}`);
}

/** An array reply of at least `length` elements. */
export function replyArray(reply: unknown, length: number, what: string): unknown[] {
  if (!Array.isArray(reply) || reply.length < length) throw badReply(what, reply);
  return reply;
}

/** An integer reply (Lua numbers arrive as integers; a decimal string is accepted too). */
export function replyInt(reply: unknown, what: string): number {
  const n = typeof reply === 'string' ? Number(reply) : reply;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw badReply(what, reply);
  return n;
}

/** A bulk-string reply. */
export function replyString(reply: unknown, what: string): string {
  if (typeof reply === 'string') return reply;
  if (Buffer.isBuffer(reply)) return reply.toString();
  throw badReply(what, reply);
}

/** A bulk-string reply or nil (Lua false arrives as null). */
export function replyOptionalString(reply: unknown, what: string): string | null {
  return reply === null ? null : replyString(reply, what);
}

/** An array of bulk strings. */
export function replyStrings(reply: unknown, what: string): string[] {
  return replyArray(reply, 0, what).map((item) => replyString(item, what));
}

/** A tuple of integers. */
export function replyInts(reply: unknown, length: number, what: string): number[] {
  return replyArray(reply, length, what).map((item) => replyInt(item, what));
}
