/**
 * Composition root: config → backend → CachePort → HTTP app → server.
 * Adapters are built by src/backend.ts; nothing under src/http imports them. `startServer` is what `npm start`
 * runs (src/main.ts) and what the HTTP tests use (PORT=0, injected port).
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { directDatabaseUrl, type Config } from './config.js';
import type { CachePort } from './core/port.js';
import { createLogger, type Logger } from './logger.js';
import { createAuthenticator } from './http/auth.js';
import { createApp, type AppDeps } from './http/app.js';
import { fastEntryRead } from './http/fast-entry-read.js';
import { joinSiblings, type SiblingChanges } from './cluster-siblings.js';
import { LocalEntryCaches } from './http/local-entries.js';
import { SseStreams } from './http/sse.js';
import { coalescingSourceOf, openBackend, type Backend, type OpenBackendOptions } from './backend.js';
import { addCoalescingSource } from './metrics.js';
import { startWorker, type WorkerHandle } from '../jobs/worker.js';

/** How long shutdown waits for in-flight requests before cutting connections. */
export const SHUTDOWN_GRACE_MS = 10_000;

export interface ServerOverrides {
  /** Use this port instead of building one from the config; the caller keeps ownership (it is not closed). */
  port?: CachePort;
  logger?: Logger;
  /** Start the cleanup worker (default: config.worker === 'inline', and never with an injected port). */
  worker?: boolean;
  /** How to open the configured backend (a cluster worker: database already prepared, its share of the pool). */
  backend?: OpenBackendOptions;
  /** A cluster worker: tell the sibling workers about writes to namespaces with local caches (cluster-siblings.ts). */
  siblings?: boolean;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: CachePort;
  logger: Logger;
  /** The open event streams (channel subscriptions, change streams). */
  streams: SseStreams;
  /** Graceful: end the event streams, stop accepting, finish in-flight requests (bounded), stop worker, close port, stop embedded Postgres. Idempotent. */
  close(): Promise<void>;
}

export async function startServer(config: Config, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const logger = overrides.logger ?? createLogger(config.logLevel);
  // Token configuration is checked before anything is started: a refusal leaves nothing behind.
  const auth = createAuthenticator(config);
  const backend: Backend = overrides.port
    ? {
        port: overrides.port,
        databaseUrl: config.databaseUrl === undefined ? undefined : directDatabaseUrl(config, config.databaseUrl),
        embedded: undefined,
        redis: undefined,
      }
    : await openBackend(config, logger, overrides.backend);
  const ownsPort = overrides.port === undefined;
  const coalescing = coalescingSourceOf(backend.port);
  const removeCoalescingSource = coalescing === undefined ? undefined : addCoalescingSource(coalescing);

  let worker: WorkerHandle | undefined;
  let server: Server | undefined;
  let localEntries: LocalEntryCaches | undefined;
  const streams = new SseStreams();
  let siblings: SiblingChanges | undefined;
  try {
    const startWorkerNow = overrides.worker ?? (ownsPort && config.worker === 'inline');
    if (startWorkerNow) {
      worker = await startWorker({ config, logger, databaseUrl: backend.databaseUrl, redisPort: backend.redis });
    }
    siblings = overrides.siblings ? joinSiblings((ns, keys) => localEntries?.changed(ns, keys)) : undefined;
    localEntries = new LocalEntryCaches(backend.port, config.localCacheMaxBytes, siblings);
    const deps: AppDeps = { port: backend.port, config, logger, auth, localEntries, streams };
    server = await listen(deps, config);
  } catch (error) {
    removeCoalescingSource?.();
    siblings?.close();
    localEntries?.close();
    await worker?.stop().catch(() => undefined);
    if (ownsPort) await backend.port.close().catch(() => undefined);
    await backend.embedded?.stop().catch(() => undefined);
    throw error;
  }

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, backend: backend.port.backend, anonymous: auth.anonymous }, `cacheport listening on ${url}`);

  const running = server;
  let closing: Promise<void> | undefined;
  return {
    url,
    port: backend.port,
    logger,
    streams,
    close() {
      closing ??= (async () => {
        // Event streams never finish by themselves: end them so they do not hold the grace period open.
        streams.endAll();
        await stopAccepting(running, SHUTDOWN_GRACE_MS);
        siblings?.close();
        localEntries?.close();
        await worker?.stop().catch((error: unknown) => logger.error({ err: error }, 'worker stop failed'));
        removeCoalescingSource?.();
        if (ownsPort) await backend.port.close().catch((error: unknown) => logger.error({ err: error }, 'port close failed'));
        await backend.embedded?.stop().catch((error: unknown) => logger.error({ err: error }, 'embedded PostgreSQL stop failed'));
        logger.info('cacheport stopped');
      })();
      return closing;
    },
  };
}

/**
 * The Node server: what @hono/node-server's serve() builds (its request listener over the app, the same
 * options), with the lean entry read (src/http/fast-entry-read.ts) offered each request first.
 */
function listen(deps: AppDeps, config: Config): Promise<Server> {
  const app = createApp(deps);
  const hono = getRequestListener(app.fetch, { hostname: config.host });
  const fast = fastEntryRead(deps);
  const server = createServer(
    fast === undefined
      ? hono
      : (incoming, outgoing) => {
          if (!fast(incoming, outgoing)) void hono(incoming, outgoing);
        },
  );
  return new Promise((resolve, reject) => {
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(config.port, config.host);
  });
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then cuts what is left. */
function stopAccepting(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    // Keep-alive connections with no request in flight would hold close() open.
    server.closeIdleConnections();
  });
}
