/**
 * The HTTP adapter against a real server: the server's problem+json answers
 * come back as the port's typed errors, a refused or wrong token is an
 * AuthorizationError, and a server that is down or silent is
 * BackendUnavailableError / BackendTimeoutError (bounded by timeoutMs), as is
 * a server that answers 200 with something that is no cacheport answer.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpPort, type HttpPort } from '../../src/adapters/http/index.js';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import {
  AuthorizationError,
  BackendTimeoutError,
  BackendUnavailableError,
  IntegerOverflowError,
  LimitExceededError,
  NotAnIntegerError,
  ValidationError,
} from '../../src/core/errors.js';
import type { CachePort } from '../../src/core/port.js';
import { closedTcpPort, createUnreachablePort } from '../support/contract-unreachable.js';
import { redisFactory } from '../support/backends.js';
import { HTTP_TEST_TOKEN, startHttpBackend, type HttpTestBackend } from '../support/http-backend.js';
import { caught, expectThrown } from '../contract/context.js';

const READ_ONLY_TOKEN = 'http-adapter-read-only-token-0123456789';

function portOn(url: string, token: string | undefined, timeoutMs = DEFAULT_ADAPTER_OPTIONS.timeoutMs): HttpPort {
  return createHttpPort({ ...DEFAULT_ADAPTER_OPTIONS, timeoutMs, url, token, poolMax: 2 });
}

describe('HTTP adapter: problem+json answers as typed errors', () => {
  let backend: HttpTestBackend;
  const ports: CachePort[] = [];

  beforeAll(async () => {
    backend = await startHttpBackend(
      redisFactory,
      {},
      {
        CACHE_MAX_VALUE_BYTES: '1024',
        CACHE_TOKENS: JSON.stringify([
          { token: HTTP_TEST_TOKEN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
          { token: READ_ONLY_TOKEN, scopes: ['read'], namespaces: ['open-*'] },
        ]),
      },
    );
  });

  afterAll(async () => {
    for (const port of ports) await port.close();
    await backend?.cleanup();
  });

  it('400 → ValidationError carrying the server invalid-params', async () => {
    const error = await expectThrown(
      () => backend.port.client.call({ method: 'POST', path: '/v1/ratelimit', body: { key: 'k', window: '1s' }, operation: 'test' }),
      ValidationError,
    );
    expect(error.invalidParams.map((p) => p.name)).toContain('limit');
  });

  it('413 → LimitExceededError with the field and the server limit, and nothing is written', async () => {
    const { port } = backend;
    const error = await expectThrown(() => port.set('lim', 'k', Buffer.alloc(1025, 1)), LimitExceededError);
    expect(error.limit).toBe(1024);
    expect(error.actual).toBe(1025);
    expect(await port.has('lim', 'k')).toBe(false);
    expect(await port.set('lim', 'k', Buffer.alloc(1024, 1))).toMatchObject({ written: true, created: true });
  });

  it('409 of a counter → NotAnIntegerError / IntegerOverflowError, through the path route and through a batch', async () => {
    const { port } = backend;
    for (const key of ['word', 'a/./word']) {
      await port.set('cnt', key, 'not a number');
      const notInt = await expectThrown(() => port.increment('cnt', key, 1), NotAnIntegerError);
      expect(notInt.key).toBe(key);
    }
    for (const key of ['big', 'a//big']) {
      await port.set('cnt', key, String(2n ** 63n - 1n));
      await expectThrown(() => port.increment('cnt', key, 1), IntegerOverflowError);
      expect((await port.get('cnt', key))?.value.toString()).toBe(String(2n ** 63n - 1n));
    }
  });

  it('401 with a wrong token → AuthorizationError (unauthorized); 403 without the scope or namespace → (forbidden)', async () => {
    const wrong = portOn(backend.server.url, 'not-a-configured-token');
    const none = portOn(backend.server.url, undefined);
    const reader = portOn(backend.server.url, READ_ONLY_TOKEN);
    ports.push(wrong, none, reader);
    for (const port of [wrong, none]) {
      const error = await expectThrown(() => port.get('open-a', 'k'), AuthorizationError);
      expect(error.code).toBe('unauthorized');
      expect(error.status).toBe(401);
    }
    expect(await reader.get('open-a', 'k')).toBeUndefined();
    for (const call of [() => reader.set('open-a', 'k', 'v'), () => reader.get('closed', 'k')]) {
      const error = await expectThrown(call, AuthorizationError);
      expect(error.code).toBe('forbidden');
    }
    expect(await backend.port.has('open-a', 'k')).toBe(false);
  });

  it('a server whose backend is unreachable answers 503 → BackendUnavailableError; ping says so too', async () => {
    const unreachable = await createUnreachablePort('redis');
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', WORKER: 'off', LOG_LEVEL: 'silent', BACKEND_TIMEOUT_MS: '500' });
    const server: RunningServer = await startServer(config, { port: unreachable, worker: false });
    const port = portOn(server.url, undefined, 5000);
    try {
      const error = await caught(() => port.get('ns', 'k'));
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(String(error)).toMatch(/503/);
      await expectThrown(() => port.ping(), BackendUnavailableError);
    } finally {
      await port.close();
      await server.close();
      await unreachable.close();
    }
  });
});

describe('HTTP adapter: server down or silent', () => {
  it('connection refused → BackendUnavailableError (not a timeout)', async () => {
    const port = portOn(`http://127.0.0.1:${await closedTcpPort()}`, 'x', 2000);
    try {
      const error = await caught(() => port.set('ns', 'k', 'v'));
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error).not.toBeInstanceOf(BackendTimeoutError);
      await expectThrown(() => port.ping(), BackendUnavailableError);
    } finally {
      await port.close();
    }
  });

  it('a server that accepts and never answers → BackendTimeoutError of timeoutMs; the socket is dropped', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address() as { port: number };
    const port = portOn(`http://127.0.0.1:${address.port}`, 'x', 300);
    try {
      const error = await expectThrown(() => port.get('ns', 'k'), BackendTimeoutError);
      expect(error.timeoutMs).toBe(300);
      expect(port.usage().inFlight).toBe(0);
    } finally {
      await port.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('a 200 that is no cacheport answer (an HTML page, JSON of another shape, too few batch results) → BackendUnavailableError', async () => {
    const answers: [string, string][] = [
      ['text/html', '<html>sign in</html>'],
      ['application/json', 'null'],
      ['application/json', '{}'],
      ['application/json', '{"results":[]}'],
    ];
    for (const [contentType, body] of answers) {
      const fake = createHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': contentType });
        res.end(body);
      });
      await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
      const port = portOn(`http://127.0.0.1:${(fake.address() as { port: number }).port}`, 'x', 2000);
      try {
        for (const call of [
          () => port.getMany('ns', ['k']),
          () => port.setMany('ns', [{ key: 'k', value: 'v' }]),
          () => port.increment('ns', 'k'),
        ])
          expect(await caught(call), `${body}`).toBeInstanceOf(BackendUnavailableError);
      } finally {
        await port.close();
        fake.closeAllConnections();
        await new Promise<void>((resolve) => fake.close(() => resolve()));
      }
    }
  });

  it('a stream answered 200 with something other than an event stream → subscribe and changes fail as unavailable', async () => {
    const fake = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>sign in</html>');
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const port = portOn(`http://127.0.0.1:${(fake.address() as { port: number }).port}`, 'x', 2000);
    try {
      expect(await caught(() => port.subscribe('chan', () => {}))).toBeInstanceOf(BackendUnavailableError);
      expect(await caught(() => port.changes('ns', () => {}))).toBeInstanceOf(BackendUnavailableError);
    } finally {
      await port.close();
      fake.closeAllConnections();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });

  it('local hits the server refuses (403 of a read-only token) are dropped, not sent again at every flush', async () => {
    const reports: string[] = [];
    const fake = createHttpServer((req, res) => {
      if (req.url?.endsWith('/local-hits')) reports.push(req.url);
      res.writeHead(403, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'urn:cacheport:problem:forbidden', status: 403, detail: 'this token lacks the write scope' }));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const port = portOn(`http://127.0.0.1:${(fake.address() as { port: number }).port}`, 'x', 2000);
    try {
      port.countLocalHits('ns', 3);
      // describe() flushes the counts first; the second finds nothing left to send.
      await expectThrown(() => port.describe('ns'), AuthorizationError);
      await expectThrown(() => port.describe('ns'), AuthorizationError);
      expect(reports).toEqual(['/v1/namespaces/ns/local-hits']);
    } finally {
      await port.close();
      fake.closeAllConnections();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });
});
