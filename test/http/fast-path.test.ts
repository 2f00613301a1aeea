/**
 * The lean entry read (src/http/fast-entry-read.ts) answers exactly as the Hono route does. Each case sends
 * the same request twice to a real server: in the plain form the lean path takes, and with one key character
 * percent-encoded (`%6B` for `k`), which it declines and the Hono app answers; status, body and headers must
 * be identical (but for date and a generated x-request-id), and /metrics must count both under the route's
 * label. plainEntryRead is checked to take the one form and decline the other, so both paths really run.
 * With a backend that never answers, both give the same 503 (counted as a backend timeout) and record a
 * client that left before the failure as 499.
 */
import { request as httpRequest } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import type { CachePort } from '../../src/core/port.js';
import { createLogger } from '../../src/logger.js';
import { createAuthenticator } from '../../src/http/auth.js';
import { ENTRY_ROUTE } from '../../src/http/entry-read.js';
import { plainEntryRead } from '../../src/http/fast-entry-read.js';
import { BACKENDS } from '../support/backends.js';
import { rawRequest, startTestServer, type RawResponse, type TestServer } from '../support/server.js';
import { jsonInit, NARROW, READER, sleep, TOKENS, WRITER } from './helpers.js';

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Headers that legitimately differ between two answers. */
const VARYING = new Set(['date', 'x-request-id']);

function comparable(res: RawResponse): { status: number; body: string; headers: Record<string, unknown> } {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(res.headers)) if (!VARYING.has(name)) headers[name] = value;
  return { status: res.status, body: res.body, headers };
}

describe.each(BACKENDS)('lean entry read on $name', (factory) => {
  let s: TestServer;
  const auth = createAuthenticator({ tokens: JSON.stringify(TOKENS), tokensFile: undefined, allowAnonymous: false, host: '127.0.0.1' });

  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS) });
    const put = (path: string, body: string, headers: Record<string, string> = {}) =>
      s.fetch(`/v1/cache/${path}`, { method: 'PUT', body, headers: { ...bearer(WRITER), ...headers } });
    expect((await put('fp/k1', 'hello', { 'content-type': 'text/plain', 'cache-tag': 'a, caf%C3%A9' })).status).toBe(201);
    expect((await put('fp/k2?ttl=1h', 'expiring')).status).toBe(201);
    expect((await put('fp/k3?ttl=250ms', 'soon gone')).status).toBe(201);
    const local = await s.fetch('/v1/namespaces/fplocal', jsonInit('PUT', { localCache: { maxEntries: 10, ttl: '1h' } }, bearer(WRITER)));
    expect(local.status).toBe(201);
    expect((await put('fplocal/k1', 'local value')).status).toBe(201);
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** The key path with `k` percent-encoded: the same request to the app, declined by the lean path. */
  const encoded = (path: string): string => path.replace(/\/k([^/]*)$/, '/%6B$1');

  async function both(method: string, path: string, headers: Record<string, string>): Promise<[RawResponse, RawResponse]> {
    const all = { host: new URL(s.url).host, ...headers };
    const raw = Object.entries(all).flat();
    expect(plainEntryRead(auth, method, path, raw), 'the lean path takes the plain form').toBeDefined();
    expect(plainEntryRead(auth, method, encoded(path), raw), 'the lean path declines the encoded form').toBeUndefined();
    const lean = await rawRequest(s.url, method, path, headers);
    const app = await rawRequest(s.url, method, encoded(path), headers);
    return [lean, app];
  }

  async function expectSame(method: string, path: string, headers: Record<string, string>, status: number): Promise<RawResponse> {
    const [lean, app] = await both(method, path, headers);
    expect(comparable(lean)).toEqual(comparable(app));
    expect(lean.status).toBe(status);
    return lean;
  }

  it('a hit: same status, body and headers (tags, content type, ETag)', async () => {
    const res = await expectSame('GET', '/v1/cache/fp/k1', bearer(READER), 200);
    expect(res.body).toBe('hello');
    expect(res.headers['cache-tag']).toBe('a, caf%C3%A9');
  });

  it('HEAD of a hit and of a missing key', async () => {
    const res = await expectSame('HEAD', '/v1/cache/fp/k1', bearer(READER), 200);
    expect(res.headers['content-length']).toBe('5');
    await expectSame('HEAD', '/v1/cache/fp/kmissing', bearer(READER), 404);
  });

  it('a missing key: the same 404 problem', async () => {
    const res = await expectSame('GET', '/v1/cache/fp/kmissing', bearer(READER), 404);
    expect(res.headers['content-type']).toBe('application/problem+json');
  });

  it('If-None-Match: 304 when it matches (also *), 200 when not', async () => {
    const etag = (await rawRequest(s.url, 'GET', '/v1/cache/fp/k1', bearer(READER))).headers.etag as string;
    await expectSame('GET', '/v1/cache/fp/k1', { ...bearer(READER), 'if-none-match': etag }, 304);
    await expectSame('GET', '/v1/cache/fp/k1', { ...bearer(READER), 'if-none-match': `"other", W/${etag}` }, 304);
    await expectSame('HEAD', '/v1/cache/fp/k1', { ...bearer(READER), 'if-none-match': '*' }, 304);
    await expectSame('GET', '/v1/cache/fp/k1', { ...bearer(READER), 'if-none-match': '"other"' }, 200);
  });

  it('an entry with an expiry: the same Expires-At and Cache-Control; once expired, the same 404', async () => {
    const [lean, app] = await both('GET', '/v1/cache/fp/k2', bearer(READER));
    expect(lean.status).toBe(200);
    expect(lean.headers['expires-at']).toBe(app.headers['expires-at']);
    // max-age is whole seconds left, taken when each answer is made: the two may straddle a second.
    const maxAge = (res: RawResponse) => Number(/^max-age=(\d+)$/.exec(res.headers['cache-control'] as string)?.[1]);
    expect(Math.abs(maxAge(lean) - maxAge(app))).toBeLessThanOrEqual(1);
    const { 'cache-control': _l, ...leanRest } = comparable(lean).headers;
    const { 'cache-control': _a, ...appRest } = comparable(app).headers;
    expect(leanRest).toEqual(appRest);

    await sleep(300);
    await expectSame('GET', '/v1/cache/fp/k3', bearer(READER), 404);
  });

  it('a localCache namespace: the same answer from the local copy', async () => {
    await expectSame('GET', '/v1/cache/fplocal/k1', bearer(READER), 200);
    const res = await expectSame('GET', '/v1/cache/fplocal/k1', bearer(READER), 200);
    expect(res.body).toBe('local value');
  });

  it('no token, a wrong token, a token without the namespace: declined, the app answers 401/403', async () => {
    const host = new URL(s.url).host;
    for (const headers of [{}, bearer('wrong-token-1'), bearer(NARROW)]) {
      expect(plainEntryRead(auth, 'GET', '/v1/cache/fp/k1', Object.entries({ host, ...headers }).flat())).toBeUndefined();
    }
    expect((await rawRequest(s.url, 'GET', '/v1/cache/fp/k1')).status).toBe(401);
    expect((await rawRequest(s.url, 'GET', '/v1/cache/fp/k1', bearer('wrong-token-1'))).status).toBe(401);
    expect((await rawRequest(s.url, 'GET', '/v1/cache/fp/k1', bearer(NARROW))).status).toBe(403);
  });

  it('declines what it does not take', () => {
    const host = new URL(s.url).host;
    const plain = ['host', host, ...Object.entries(bearer(READER)).flat()];
    const takes = (method: string, url: string, raw = plain) => plainEntryRead(auth, method, url, raw) !== undefined;
    expect(takes('GET', '/v1/cache/fp/a/b.c/d:e~f_g-h')).toBe(true);
    for (const url of [
      '/v1/cache/fp/k1?x=1',
      '/v1/cache/fp/./k1',
      '/v1/cache/fp/a/../k1',
      '/v1/cache/fp/a//b',
      '/v1/cache/fp/',
      '/v1/cache/fp',
      '/v1/cache/FP/k1',
      `http://${host}/v1/cache/fp/k1`,
      '/v1/counters/fp/k1',
    ]) {
      expect(takes('GET', url), url).toBe(false);
    }
    expect(takes('PUT', '/v1/cache/fp/k1')).toBe(false);
    expect(takes('GET', '/v1/cache/fp/k1', [...plain, 'Authorization', `Bearer ${READER}`])).toBe(false);
    expect(takes('GET', '/v1/cache/fp/k1', [...plain, 'If-None-Match', 'no quotes'])).toBe(false);
    expect(takes('GET', '/v1/cache/fp/k1', [...plain, 'Content-Length', '3'])).toBe(false);
    expect(takes('GET', '/v1/cache/fp/k1', ['host', 'Example.COM', ...plain.slice(2)])).toBe(false);
  });

  it('echoes a valid x-request-id and replaces an invalid one, as the app does', async () => {
    const [lean, app] = await both('GET', '/v1/cache/fp/k1', { ...bearer(READER), 'x-request-id': 'req-123:abc' });
    expect(lean.headers['x-request-id']).toBe('req-123:abc');
    expect(app.headers['x-request-id']).toBe('req-123:abc');
    const [leanBad, appBad] = await both('GET', '/v1/cache/fp/k1', { ...bearer(READER), 'x-request-id': 'has spaces' });
    expect(leanBad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(appBad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('/metrics counts both under the route label, and the lookups alike', async () => {
    const series = async (): Promise<Record<string, number>> => {
      const text = await (await s.fetch('/metrics')).text();
      const pick = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
      const route = ENTRY_ROUTE.replace(/[/*]/g, (ch) => `\\${ch}`);
      return {
        get200: pick(new RegExp(`cacheport_http_requests_total\\{method="GET",route="${route}",status="200"\\} (\\d+)`)),
        head404: pick(new RegExp(`cacheport_http_requests_total\\{method="HEAD",route="${route}",status="404"\\} (\\d+)`)),
        durations: pick(new RegExp(`cacheport_http_request_duration_seconds_count\\{method="GET",route="${route}",status="200"\\} (\\d+)`)),
        hits: pick(/cacheport_cache_lookups_total\{namespace="_other",result="hit"\} (\d+)/),
        misses: pick(/cacheport_cache_lookups_total\{namespace="_other",result="miss"\} (\d+)/),
      };
    };
    expect(ENTRY_ROUTE).toBe('/v1/cache/:ns/*');
    const before = await series();
    await rawRequest(s.url, 'GET', '/v1/cache/fp/k1', bearer(READER));
    await rawRequest(s.url, 'HEAD', '/v1/cache/fp/kmissing', bearer(READER));
    const afterLean = await series();
    await rawRequest(s.url, 'GET', encoded('/v1/cache/fp/k1'), bearer(READER));
    await rawRequest(s.url, 'HEAD', encoded('/v1/cache/fp/kmissing'), bearer(READER));
    const afterApp = await series();
    const delta = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(Object.keys(a).map((name) => [name, (b[name] ?? 0) - (a[name] ?? 0)]));
    expect(delta(before, afterLean)).toEqual({ get200: 1, head404: 1, durations: 1, hits: 1, misses: 1 });
    expect(delta(afterLean, afterApp)).toEqual(delta(before, afterLean));
  });
});

/** A backend that accepts connections and never answers: every read times out (BACKEND_TIMEOUT_MS). */
describe('lean entry read with the backend not answering', () => {
  let blackHole: Server;
  let server: RunningServer;
  let port: CachePort;
  beforeAll(async () => {
    blackHole = createNetServer(() => {});
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port: holePort } = blackHole.address() as AddressInfo;
    port = createPostgresPort({
      ...DEFAULT_ADAPTER_OPTIONS,
      timeoutMs: 500,
      url: `postgres://root@127.0.0.1:${holePort}/test`,
      schema: 'cp_black_hole',
      poolMax: 2,
    });
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', BACKEND_TIMEOUT_MS: '500' });
    server = await startServer(config, { port, logger: createLogger('silent'), worker: false });
  });
  afterAll(async () => {
    await server?.close();
    await port?.close().catch(() => undefined);
    blackHole?.close();
  });

  const counts = async (): Promise<{ timeouts: number; closed: number }> => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const pick = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
    return {
      timeouts: pick(/cacheport_backend_errors_total\{kind="timeout"\} (\d+)/),
      closed: pick(/cacheport_http_requests_total\{method="GET",route="\/v1\/cache\/:ns\/\*",status="499"\} (\d+)/),
    };
  };

  it('the same 503 problem, counted as a backend timeout by both', async () => {
    const before = await counts();
    const lean = await rawRequest(server.url, 'GET', '/v1/cache/fp/k1');
    const afterLean = await counts();
    const app = await rawRequest(server.url, 'GET', '/v1/cache/fp/%6B1');
    const afterApp = await counts();
    expect(lean.status).toBe(503);
    expect(comparable(lean)).toEqual(comparable(app));
    expect(afterLean.timeouts - before.timeouts).toBe(1);
    expect(afterApp.timeouts - afterLean.timeouts).toBe(1);
  });

  it('a client that leaves before the read fails is recorded as 499 by both', async () => {
    for (const path of ['/v1/cache/fp/k1', '/v1/cache/fp/%6B1']) {
      const before = await counts();
      const { hostname, port: serverPort } = new URL(server.url);
      await new Promise<void>((resolve) => {
        const req = httpRequest({ hostname, port: serverPort, path });
        req.on('error', () => resolve());
        req.end();
        // Gone well before the 500 ms backend timeout.
        setTimeout(() => req.destroy(), 50);
      });
      // The failure comes at the timeout; the 499 is recorded then.
      await vi.waitFor(async () => expect((await counts()).closed - before.closed).toBe(1), { timeout: 5000, interval: 100 });
    }
  });
});
