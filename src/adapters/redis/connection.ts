/**
 * ioredis client construction for a single node or a Redis Cluster, tuned so a
 * dead Redis fails fast instead of hanging and a returning Redis is picked up
 * without a restart.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  /** redis://[user:pass@]host:port[/db]; ignored when clusterNodes is given. */
  url: string;
  /** Switches to Redis Cluster (REDIS_CLUSTER_NODES). */
  clusterNodes?: { host: string; port: number }[];
  /** Bound on every command (REDIS_COMMAND_TIMEOUT_MS / BACKEND_TIMEOUT_MS). */
  timeoutMs: number;
  /** Called for connection-level errors (they also surface on the failing calls). */
  onError?: (error: Error) => void;
}

/** Reconnect forever with capped, jittered exponential backoff: Redis may come back at any time. */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(50 * 2 ** Math.min(attempt, 10), 2000);
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * - `enableOfflineQueue: false`: while disconnected, commands are rejected at
 *   once (BackendUnavailableError) instead of queueing until the timeout.
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`: a
 *   command in flight when the connection drops fails instead of being re-sent,
 *   so a non-idempotent script (increment, set with condition) never runs twice.
 * - `commandTimeout`: bounds every command; it is the only timer on the hot
 *   path (RedisContext.runCommand). RedisContext.run adds a caller-side bound
 *   (withTimeout) for multi-command calls and for waiting for `ready`.
 */
function commonOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    commandTimeout: options.timeoutMs,
    connectTimeout: Math.max(options.timeoutMs, 1000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
    // A failover turns the old master into a replica: reconnect to find the new one.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
}

/** The node options without `enableOfflineQueue`, so ioredis's own (on) applies to the lazy node connections. */
function withoutOfflineQueueSetting(options: RedisOptions): RedisOptions {
  const { enableOfflineQueue: _ignored, ...rest } = options;
  return rest;
}

export function createRedisClient(options: RedisConnectionOptions): RedisClient {
  const common = commonOptions(options);
  let client: RedisClient;
  if (options.clusterNodes && options.clusterNodes.length > 0) {
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      // 0: a command whose connection closed (it may have run) or that met
      // CLUSTERDOWN fails at once instead of being re-sent later, possibly
      // after its caller's timeout. MOVED/ASK/TRYAGAIN replies (Redis did not
      // run the command) are still followed, as a cluster needs.
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: Math.max(options.timeoutMs, 1000),
      scaleReads: 'master',
      // Node connections are lazy: the first command to a master opens its connection. ioredis keeps
      // their offline queue on for that reason; without it the first command to each master failed
      // (503) until the connection was up (the scale test saw it: parallel lock acquires and rate
      // limits across three fresh instances). Queued commands have not been sent, so the queue cannot
      // run a script twice; commandTimeout still bounds them, and a failed connect flushes them
      // (maxRetriesPerRequest 0). The cluster itself still rejects at once while it is not ready.
      redisOptions: withoutOfflineQueueSetting(common),
    };
    client = new Cluster(options.clusterNodes, clusterOptions);
  } else {
    client = new Redis(options.url, common);
  }
  // Without a listener ioredis prints every reconnect failure to stderr.
  client.on('error', (error: Error) => options.onError?.(error));
  return client;
}
