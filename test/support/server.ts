/**
 * Starts the real HTTP server (src/app.ts startServer) on an ephemeral port
 * against an isolated test backend, for tests that talk HTTP with fetch.
 */
import { request as httpRequest } from 'node:http';
import { loadConfig, type Config } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import type { BackendFactory, TestBackend } from './backends.js';

export interface TestServer {
  url: string;
  backend: TestBackend;
  server: RunningServer;
  config: Config;
  /** fetch relative to the server URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** `env` is applied on top of a neutral test environment (loopback, port 0, no worker). */
export async function startTestServer(factory: BackendFactory, env: Record<string, string> = {}): Promise<TestServer> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', WORKER: 'off', LOG_LEVEL: 'silent', ...env });
  const backend = await factory.create({
    defaultTtl: config.defaultTtl,
    maxValueBytes: config.maxValueBytes,
    maxBatch: config.maxBatch,
    timeoutMs: config.backendTimeoutMs,
  });
  let server: RunningServer;
  try {
    server = await startServer(config, { port: backend.port, logger: createLogger(config.logLevel), worker: false });
  } catch (error) {
    await backend.cleanup();
    throw error;
  }
  return {
    url: server.url,
    backend,
    server,
    config,
    fetch: (path, init) => fetch(server.url + path, init),
    async stop() {
      await server.close();
      await backend.cleanup();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Sends a request with the path exactly as given (fetch would normalize
 * `.`/`..` segments and `%2e` before sending).
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
