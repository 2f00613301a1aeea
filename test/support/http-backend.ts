/**
 * The HTTP adapter as a test backend: a real cacheport server (src/app.ts
 * startServer, on an ephemeral loopback port, with a bearer token) over a
 * Postgres or Redis test backend, and an HTTP-adapter port talking to it.
 * Cleanup closes the adapter, the server and the backend underneath.
 */
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/app.js';
import { createHttpPort, type HttpPort } from '../../src/adapters/http/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/core/channels.js';
import type { BackendFactory, TestBackend } from './backends.js';

/** `{"data":` and `}` around a published message. */
const PUBLISH_ENVELOPE_BYTES = 9;

export const HTTP_TEST_TOKEN = 'http-adapter-test-token-0123456789';

export interface HttpTestBackend extends TestBackend {
  port: HttpPort;
  server: RunningServer;
  /** The port of the backend under the server. */
  inner: TestBackend;
}

/** The HTTP client's default deadline in tests (the server's own backend deadline stays the configured one). */
const CLIENT_TIMEOUT_MS = 10_000;

/** A server over `inner`'s backend and an HTTP port on it; `env` is applied to the server's configuration. */
export async function startHttpBackend(
  inner: BackendFactory,
  options: Partial<typeof DEFAULT_ADAPTER_OPTIONS> & { poolMax?: number } = {},
  env: Record<string, string> = {},
): Promise<HttpTestBackend> {
  const { poolMax = 4, ...adapterOptions } = options;
  // The server limits a publish's whole body ({"data": …}); the adapter checks the message itself (maxMessageBytes).
  const messageBytes = (adapterOptions.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES) + PUBLISH_ENVELOPE_BYTES;
  const config = loadConfig({
    CACHE_MAX_MESSAGE_BYTES: String(messageBytes),
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER: 'off',
    LOG_LEVEL: 'silent',
    CACHE_TOKENS: JSON.stringify([{ token: HTTP_TEST_TOKEN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] }]),
    ...env,
  });
  const backend = await inner.create({
    ...adapterOptions,
    defaultTtl: config.defaultTtl,
    maxValueBytes: config.maxValueBytes,
    maxBatch: config.maxBatch,
    timeoutMs: config.backendTimeoutMs,
  });
  let server: RunningServer;
  try {
    server = await startServer(config, { port: backend.port, worker: false });
  } catch (error) {
    await backend.cleanup();
    throw error;
  }
  const make = (given: Partial<typeof DEFAULT_ADAPTER_OPTIONS>): HttpPort =>
    createHttpPort({
      ...DEFAULT_ADAPTER_OPTIONS,
      // The client's deadline includes the wait for one of its poolMax sockets: 200 calls fired at once on a
      // loaded CI machine queued past the default 2 s. Tests of deadlines pass timeoutMs themselves.
      timeoutMs: CLIENT_TIMEOUT_MS,
      ...given,
      url: server.url,
      token: HTTP_TEST_TOKEN,
      poolMax,
    });
  const port = make(adapterOptions);
  const siblings: HttpPort[] = [];
  return {
    port,
    server,
    inner: backend,
    scope: backend.scope,
    /** Another HTTP port on the same server (like a second client process). */
    sibling(more = adapterOptions) {
      const other = make(more);
      siblings.push(other);
      return other;
    },
    async cleanup() {
      await Promise.all([port, ...siblings].map((p) => p.close()));
      await server.close();
      await backend.cleanup();
    },
  };
}

/** A BackendFactory (for runContractSuite and useBackend) of HTTP ports over `inner`. */
export function httpFactory(inner: BackendFactory): BackendFactory<'http'> {
  return {
    name: 'http',
    create: (options) => startHttpBackend(inner, options),
  };
}
