/**
 * The Redis adapter: one ioredis client (single node or Cluster), one
 * context, and the feature modules composed into a CachePort.
 */
import type { AdapterOptions } from '../../core/defaults.js';
import { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import { defaultNamespaceConfig } from '../../core/defaults.js';
import type { CachePort } from '../../core/port.js';
import { Cluster } from 'ioredis';
import { timedPing } from '../../core/ping.js';
import { withTimeout } from '../../core/timeout.js';
import { RedisChangeFeed } from './change-feed.js';
import { createRedisPubSub } from './channels.js';
import { createRedisClient, type RedisClient } from './connection.js';
import { createRedisContext, mapRedisError, type RedisContext } from './context.js';
import { createRedisEntryStore } from './entries.js';
import { HitCounter } from './hit-counter.js';
import { createRedisKeyInspector } from './key-inspector.js';
import { createRedisLockManager } from './locks.js';
import { namespaceKeys } from './namespace-keys.js';
import { createRedisNamespaceAdmin, loadStoredConfig, type NamespaceMaintenance } from './namespaces.js';
import { createRedisPresenceTracker } from './presence.js';
import { createRedisRateLimiter } from './ratelimit.js';
import { createRedisSessionStore } from './sessions.js';

export interface RedisPortOptions extends AdapterOptions {
  url: string;
  /** REDIS_CLUSTER_NODES; switches to Redis Cluster. */
  clusterNodes?: { host: string; port: number }[];
  /** REDIS_PREFIX: every key starts with `prefix:`. */
  prefix: string;
  /** How long another process's namespace configuration change may go unseen (default 1 s). */
  configMaxAgeMs?: number;
  /** Connection-level errors (reconnect attempts); they also surface on failing calls. */
  onConnectionError?: (error: Error) => void;
}

export interface RedisPort extends CachePort, NamespaceMaintenance {
  readonly redis: RedisClient;
  /** For other modules built on the same connection. */
  readonly context: RedisContext;
  /** Alias of enforceBounds (maxEntries and maxBytes). */
  enforceMaxEntries(ns: string): Promise<number>;
  /** The change feed behind `changes` (its subscriber connections are opened on first use). */
  readonly feed: RedisChangeFeed;
}

export function createRedisPort(options: RedisPortOptions): RedisPort {
  const redis = createRedisClient({
    url: options.url,
    clusterNodes: options.clusterNodes,
    timeoutMs: options.timeoutMs,
    onError: options.onConnectionError,
  });
  const ctx = createRedisContext(redis, options.prefix, options);
  const configs = new NamespaceConfigCache(
    async (ns) => (await ctx.run('load namespace config', () => loadStoredConfig(ctx, ns))) ?? defaultNamespaceConfig(options.defaultTtl),
    options.configMaxAgeMs ?? 1000,
  );
  const counter = new HitCounter(ctx);
  const entries = createRedisEntryStore(ctx, configs, counter);
  const namespaces = createRedisNamespaceAdmin(ctx, configs, counter);
  const feed = new RedisChangeFeed({
    redis,
    prefix: options.prefix,
    channel: (ns) => namespaceKeys(ctx, ns).changes,
    timeoutMs: options.timeoutMs,
  });
  const pubsub = createRedisPubSub(ctx, { ...options, prefix: options.prefix, timeoutMs: options.timeoutMs });

  /**
   * On a Cluster, every master: ioredis opens a master's connection at its first command, and
   * while that connection is still opening the Cluster client (offline queue off) rejects further
   * commands to it. Startup and /health/ready wait for this ping, so an instance serves only once
   * every master's connection is up: without it, parallel first calls of a fresh instance got 503
   * (the scale test saw it).
   */
  async function pingEveryMaster(): Promise<unknown> {
    if (!(redis instanceof Cluster)) return redis.ping();
    return Promise.all(redis.nodes('master').map((node) => node.ping()));
  }

  function ping(timeoutMs = options.timeoutMs): Promise<number> {
    return timedPing(
      () => ctx.run('ping', () => pingEveryMaster()),
      timeoutMs,
      (error) => mapRedisError(error, 'ping', timeoutMs),
    );
  }

  async function close(): Promise<void> {
    await feed.close();
    await pubsub.close();
    await counter.close();
    if (redis.status === 'ready') {
      await withTimeout(
        redis.quit().then(() => undefined),
        options.timeoutMs,
        'close',
      ).catch(() => redis.disconnect());
    } else {
      redis.disconnect();
    }
  }

  return {
    backend: 'redis',
    redis,
    context: ctx,
    ...entries,
    ...namespaces,
    ...createRedisKeyInspector(ctx, counter),
    ...createRedisRateLimiter(ctx),
    ...createRedisLockManager(ctx),
    ...createRedisSessionStore(ctx),
    ...createRedisPresenceTracker(ctx),
    enforceMaxEntries: namespaces.enforceBounds,
    feed,
    changes: feed.changes,
    publish: pubsub.publish,
    subscribe: pubsub.subscribe,
    ping,
    close,
    usage: () => ({ inFlight: ctx.inFlight(), poolSize: null }),
  };
}
