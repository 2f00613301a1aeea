/**
 * What every Redis feature module (entries, rate limits, locks, sessions,
 * presence) is built from: the client, key naming, and `run` (timeout + error
 * mapping).
 *
 * Key layout (all keys start with `{prefix}:`, so one Redis can serve several
 * apps and `SCAN MATCH prefix:*` / ACL `~prefix:*` cover exactly ours):
 *
 *   prefix:{ns}:<key>           an entry                       entryKey(ctx, ns, key) (namespace-keys.ts)
 *   prefix:{ns}#<kind>          a per-namespace structure      ctx.nsKey(ns, kind)
 *   prefix:<kind>:{<tag>}[:p]   other features' keys           ctx.sysKey(kind, tag, ...parts)
 *   prefix:<kind>               a global key (own slot)        ctx.globalKey(kind)
 *
 * Redis Cluster hashes only the part between the first `{` and the next `}`
 * (the hash tag). A Lua script may touch only keys of one slot, so every key a
 * script touches must carry the same tag: a namespace's entries and indexes
 * share `{ns}` (one namespace = one slot; see README), and sysKey keys built
 * with the same `tag` share a slot. A global key never appears in a script
 * together with other keys.
 */
import type { AdapterOptions } from '../../core/defaults.js';
import { BackendTimeoutError, BackendUnavailableError, isCacheError } from '../../core/errors.js';
import { SOCKET_ERROR_CODES } from '../../core/socket-errors.js';
import { withTimeout } from '../../core/timeout.js';
import type { RedisClient } from './connection.js';

export type { RedisClient } from './connection.js';

/**
 * The caller's deadline inside run(): `call` starts only if it has not passed
 * (a call that waited for the connection past it is dropped, never sent), and
 * a call sending several commands in turn checks it before each later one.
 * What was already handed to ioredis is sent (written to the socket at once:
 * no offline queue) and may complete after the caller's timeout.
 */
export interface Deadline {
  /** Throws BackendTimeoutError once the caller's time is up. */
  check(): void;
}

export interface RedisContext {
  redis: RedisClient;
  /** REDIS_PREFIX; never contains `{`, `}` or `:` beyond what config allows ([A-Za-z0-9_.-]). */
  prefix: string;
  options: AdapterOptions;
  /**
   * Runs one backend call bounded by options.timeoutMs. Connection failures →
   * BackendUnavailableError, timeouts → BackendTimeoutError, a script's
   * `redis.error_reply('CACHEPORT <code>')` → `onScriptError(code)` (or a
   * plain Error when no mapping is given). Typed errors pass through.
   */
  run<T>(operation: string, call: (deadline: Deadline) => Promise<T>, onScriptError?: (code: string) => Error): Promise<T>;
  /**
   * `run` for a call that sends ONE command (or one back-to-back batch) on a
   * ready connection: ioredis' commandTimeout already bounds it, so the hot
   * path skips the extra timer and readiness promise. Not ready → `run`.
   */
  runCommand<T>(operation: string, call: () => Promise<T>, onScriptError?: (code: string) => Error): Promise<T>;
  /** Calls inside run() / runCommand() right now. */
  inFlight(): number;
  /** A per-namespace structure in the namespace's slot: `prefix:{ns}#kind`. */
  nsKey(ns: string, kind: string): string;
  /**
   * Any other feature key: `prefix:kind:{tag}` plus `:part` for each part.
   * Keys built with the same `kind`-independent `tag` share a cluster slot,
   * so one script may use them together, e.g. sysKey('lock', name) and
   * sysKey('fence', name). `tag` is escaped (`%`, `{`, `}` → %XX) so user
   * input can never end the hash tag early; `kind` is [a-z][a-z0-9_-]*.
   */
  sysKey(kind: string, tag: string, ...parts: string[]): string;
  /** A global key `prefix:kind` (its own slot): never combine it with other keys in a script. */
  globalKey(kind: string): string;
}

const KIND_PATTERN = /^[a-z][a-z0-9_-]*$/;

function checkKind(kind: string): void {
  if (!KIND_PATTERN.test(kind)) throw new Error(`redis key kind must match ${KIND_PATTERN}, got ${JSON.stringify(kind)}`);
}

/** Injective and brace-free; the empty string gets a non-empty tag (`{}` would hash the whole key). */
export function escapeHashTag(tag: string): string {
  if (tag === '') return '%00';
  return tag.replace(/[%{}]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

// ---------------------------------------------------------------- errors

/** Prefix of error replies raised on purpose by our Lua scripts. */
export const SCRIPT_ERROR_PREFIX = 'CACHEPORT ';

const CONNECTION_ERROR_CODES = new Set([...SOCKET_ERROR_CODES, 'ENETUNREACH']);

/** Server replies that mean "not able to serve now" rather than "you asked wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|OOM|MISCONF|NOREPLICAS)\b/;

/** ioredis client-side failures (offline queue disabled, connection lost, cluster not ready). */
const UNAVAILABLE_MESSAGE =
  /Stream isn't writeable|Connection is closed|Reached the max retries|None of startup nodes|Failed to refresh slots|Cluster isn't ready|ClusterAllFailedError|connect ETIMEDOUT/;

/** The code of a `CACHEPORT <code>` error reply, wherever Redis put it in the message. */
export function scriptErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const at = error.message.indexOf(SCRIPT_ERROR_PREFIX);
  if (at < 0) return undefined;
  return /^[a-z_]+/.exec(error.message.slice(at + SCRIPT_ERROR_PREFIX.length))?.[0];
}

export function mapRedisError(error: unknown, operation: string, timeoutMs: number, onScriptError?: (code: string) => Error): unknown {
  if (isCacheError(error)) return error;
  if (!(error instanceof Error)) return error;
  const code = scriptErrorCode(error);
  if (code !== undefined)
    return onScriptError ? onScriptError(code) : new Error(`script error ${code} during ${operation}`, { cause: error });
  if (error.message === 'Command timed out') return new BackendTimeoutError(timeoutMs, operation);
  const errno = 'code' in error ? String((error as { code: unknown }).code) : '';
  if (
    CONNECTION_ERROR_CODES.has(errno) ||
    UNAVAILABLE_REPLY.test(error.message) ||
    UNAVAILABLE_MESSAGE.test(error.message) ||
    error.name === 'MaxRetriesPerRequestError' ||
    error.name === 'ClusterAllFailedError'
  ) {
    return new BackendUnavailableError(`redis unavailable during ${operation}: ${error.message}`, { cause: error });
  }
  return error;
}

// ---------------------------------------------------------------- readiness

/**
 * Tracks whether the connection is usable. Before the first connection the
 * caller waits for `ready` (bounded by the timeout); once a connection has
 * failed, calls fail at once until ioredis reconnects (fail fast, no hang).
 */
class Readiness {
  private everFailed = false;
  private closed = false;

  constructor(private readonly redis: RedisClient) {
    redis.on('ready', () => {
      this.everFailed = false;
    });
    redis.on('error', () => {
      this.everFailed = true;
    });
    redis.on('close', () => {
      this.everFailed = true;
    });
    redis.on('end', () => {
      this.closed = true;
    });
  }

  async waitFor(operation: string): Promise<void> {
    const status = this.redis.status;
    if (status === 'ready') return;
    if (this.closed || status === 'end') throw new BackendUnavailableError(`redis connection is closed (${operation})`);
    if (this.everFailed) throw new BackendUnavailableError(`redis unavailable during ${operation}: reconnecting (status ${status})`);
    if (status === 'wait') void this.redis.connect().catch(() => {});
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const onEnd = (): void => {
        cleanup();
        reject(new BackendUnavailableError(`redis connection is closed (${operation})`));
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(new BackendUnavailableError(`redis unavailable during ${operation}: ${error.message}`, { cause: error }));
      };
      const cleanup = (): void => {
        this.redis.off('ready', onReady);
        this.redis.off('end', onEnd);
        this.redis.off('error', onError);
      };
      this.redis.on('ready', onReady);
      this.redis.on('end', onEnd);
      this.redis.on('error', onError);
    });
  }
}

export function createRedisContext(redis: RedisClient, prefix: string, options: AdapterOptions): RedisContext {
  const readiness = new Readiness(redis);
  let inFlight = 0;
  async function run<T>(operation: string, call: (deadline: Deadline) => Promise<T>, onScriptError?: (code: string) => Error): Promise<T> {
    inFlight++;
    // withTimeout expires the call no earlier than this: a check that passes never drops a call whose caller still waits.
    const endsAt = performance.now() + options.timeoutMs;
    const deadline: Deadline = {
      check() {
        if (performance.now() >= endsAt) throw new BackendTimeoutError(options.timeoutMs, operation);
      },
    };
    try {
      return await withTimeout(
        readiness.waitFor(operation).then(() => {
          deadline.check();
          return call(deadline);
        }),
        options.timeoutMs,
        operation,
      );
    } catch (error) {
      throw mapRedisError(error, operation, options.timeoutMs, onScriptError);
    } finally {
      inFlight--;
    }
  }
  return {
    redis,
    prefix,
    options,
    run,
    async runCommand(operation, call, onScriptError) {
      if (redis.status !== 'ready') return run(operation, call, onScriptError);
      inFlight++;
      try {
        return await call();
      } catch (error) {
        throw mapRedisError(error, operation, options.timeoutMs, onScriptError);
      } finally {
        inFlight--;
      }
    },
    inFlight: () => inFlight,
    nsKey(ns, kind) {
      checkKind(kind);
      return `${prefix}:{${ns}}#${kind}`;
    },
    sysKey(kind, tag, ...parts) {
      checkKind(kind);
      return `${prefix}:${kind}:{${escapeHashTag(tag)}}${parts.map((p) => `:${p}`).join('')}`;
    },
    globalKey(kind) {
      checkKind(kind);
      return `${prefix}:${kind}`;
    },
  };
}
