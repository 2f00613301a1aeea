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
import type { BackendFactory, TestBackend } from './backends.js';

export const HTTP_TEST_TOKEN = 'http-adapter-test-token-0123456789';

export interface HttpTestBackend extends TestBackend {
  port: HttpPort;
  server: RunningServer;
  /** The port of the backend under the server. */
  inner: TestBackend;
}

/** A server over `inner`'s backend and an HTTP port on it; `env` is applied to the server's configuration. */
export async function startHttpBackend(
  inner: BackendFactory,
  options: Partial<typeof DEFAULT_ADAPTER_OPTIONS> & { poolMax?: number } = {},
  env: Record<string, string> = {},
): Promise<HttpTestBackend> {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER: 'off',
    LOG_LEVEL: 'silent',
    CACHE_TOKENS: JSON.stringify([{ token: HTTP_TEST_TOKEN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] }]),
    ...env,
  });
  const { poolMax = 4, ...adapterOptions } = options;
  const backend = await inner.create({
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
  const port = createHttpPort({ ...DEFAULT_ADAPTER_OPTIONS, ...adapterOptions, url: server.url, token: HTTP_TEST_TOKEN, poolMax });
  return {
    port,
    server,
    inner: backend,
    scope: backend.scope,
    async cleanup() {
      await port.close();
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
