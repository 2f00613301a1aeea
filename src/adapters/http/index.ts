/**
 * The HTTP adapter: a CachePort that talks to a cacheport server (src/http)
 * over its public API, so an application can use the library against a
 * shared server with only a URL and a token. Every call is one request (a
 * batch for getMany/setMany/deleteMany) on a keep-alive pool of at most
 * `poolMax` sockets, bounded by `timeoutMs`; the server's problem+json
 * answers come back as the port's typed errors.
 */
import type { AdapterOptions } from '../../core/defaults.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { CachePort } from '../../core/port.js';
import { timedPing } from '../../core/ping.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../core/channels.js';
import { HttpChangeFeed } from './change-feed.js';
import { HttpClient } from './client.js';
import { createHttpPubSub } from './channels.js';
import { createHttpEntryStore } from './entries.js';
import { createHttpKeyInspector } from './keys.js';
import { createHttpLockManager } from './locks.js';
import { createHttpNamespaceAdmin, LocalHitReporter } from './namespaces.js';
import { createHttpPresenceTracker } from './presence.js';
import { createHttpRateLimiter } from './ratelimit.js';
import { createHttpSessionStore } from './sessions.js';
import { closeStreams } from './sse.js';

export interface HttpPortOptions extends AdapterOptions {
  /** The server's base URL, http:// or https://. */
  url: string;
  /** Bearer token (CACHE_TOKENS on the server); omitted for an anonymous loopback server. */
  token?: string;
  /** Most sockets open to the server at once (default 10); further calls wait for one. */
  poolMax: number;
  /**
   * Change and channel streams that deliver nothing, not even the server's keepalive comment, for this long
   * are reconnected (default 60 s; keep it above the server's SSE_KEEPALIVE, 15 s by default).
   */
  streamIdleTimeoutMs?: number;
}

export interface HttpPort extends CachePort {
  /** The change feed behind `changes` (one SSE stream per subscribed namespace). */
  readonly feed: HttpChangeFeed;
  /** The request pool's Agent (its sockets are the adapter's connections). */
  readonly client: HttpClient;
}

export function createHttpPort(options: HttpPortOptions): HttpPort {
  const client = new HttpClient({
    url: options.url,
    token: options.token,
    poolMax: options.poolMax,
    timeoutMs: options.timeoutMs,
    streamIdleTimeoutMs: options.streamIdleTimeoutMs,
  });
  const feed = new HttpChangeFeed(client);
  const localHits = new LocalHitReporter(client);
  const channels = createHttpPubSub(client, options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  let closed = false;

  function ping(timeoutMs = options.timeoutMs): Promise<number> {
    return timedPing(
      () => client.call({ method: 'GET', path: '/health/ready', operation: 'ping' }),
      timeoutMs,
      (error) =>
        error instanceof BackendUnavailableError ? error : new BackendUnavailableError(`ping failed: ${String(error)}`, { cause: error }),
    );
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await localHits.close();
    await feed.close();
    channels.closeAll();
    closeStreams(client);
    client.close();
  }

  return {
    backend: 'http',
    client,
    feed,
    ...createHttpEntryStore(client, options),
    ...createHttpNamespaceAdmin(client, localHits),
    ...createHttpKeyInspector(client),
    ...createHttpRateLimiter(client),
    ...createHttpLockManager(client),
    ...createHttpSessionStore(client),
    ...createHttpPresenceTracker(client),
    changes: feed.changes,
    publish: channels.publish,
    subscribe: channels.subscribe,
    ping,
    close,
    usage: () => ({ inFlight: client.inFlight(), poolSize: options.poolMax }),
  };
}
