/** Authentication, operations routes and failure handling over real HTTP, against each backend. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer } from '../../src/app.js';
import { createAuthenticator } from '../../src/http/auth.js';
import type { CachePort } from '../../src/core/port.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { createLogger } from '../../src/logger.js';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit, namespaceJson, sleep } from './helpers.js';

const TOKENS = [
  { token: 'admin-token-0001', scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: 'reader-token-001', scopes: ['read'], namespaces: ['app*'] },
  { token: 'writer-token-001', scopes: ['read', 'write'], namespaces: ['app1'] },
];
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(BACKENDS)('HTTP auth and operations on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS), METRICS_TOKEN: 'metrics-secret' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('missing or unknown token → 401 with WWW-Authenticate: Bearer, and nothing is written', async () => {
    for (const headers of [{}, bearer('nope-nope-nope'), { authorization: 'Basic YWRtaW4=' }, { authorization: 'Bearer' }]) {
      const res = await s.fetch('/v1/cache/app1/k', { method: 'PUT', body: 'x', headers });
      await expectProblem(res, 401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await s.fetch('/v1/cache/app1/k', { headers: bearer('admin-token-0001') })).status).toBe(404);
  });

  it('scopes: read cannot write, write cannot administer; 403 changes nothing', async () => {
    const admin = bearer('admin-token-0001');
    expect((await s.fetch('/v1/cache/app1/k', { method: 'PUT', body: 'v', headers: admin })).status).toBe(201);
    const reader = bearer('reader-token-001');
    expect((await s.fetch('/v1/cache/app1/k', { headers: reader })).status).toBe(200);
    expect((await s.fetch('/v1/cache/app1/k', { method: 'HEAD', headers: reader })).status).toBe(200);
    await expectProblem(await s.fetch('/v1/cache/app1/k', { method: 'PUT', body: 'changed', headers: reader }), 403);
    await expectProblem(await s.fetch('/v1/cache/app1/k', { method: 'DELETE', headers: reader }), 403);
    await expectProblem(await s.fetch('/v1/counters/app1/n', { method: 'POST', headers: reader }), 403);
    await expectProblem(await s.fetch('/v1/batch', jsonInit('POST', { ops: [] }, reader)), 403);
    const writer = bearer('writer-token-001');
    await expectProblem(await s.fetch('/v1/namespaces/app1', jsonInit('PUT', { defaultTtl: '5m' }, writer)), 403);
    await expectProblem(await s.fetch('/v1/namespaces/app1/invalidate', jsonInit('POST', { keys: ['k'] }, writer)), 403);
    await expectProblem(await s.fetch('/v1/namespaces/app1/entries', { method: 'DELETE', headers: writer }), 403);
    await expectProblem(await s.fetch('/v1/namespaces/app1', { method: 'DELETE', headers: writer }), 403);
    expect(await (await s.fetch('/v1/cache/app1/k', { headers: admin })).text()).toBe('v');
    expect((await namespaceJson(s.fetch('/v1/namespaces/app1', { headers: admin }))).config.defaultTtl).toBe('1h');
  });

  it('namespace patterns confine entries, counters, batch and namespace lists', async () => {
    const admin = bearer('admin-token-0001');
    const writer = bearer('writer-token-001');
    const reader = bearer('reader-token-001');
    await s.fetch('/v1/cache/other/k', { method: 'PUT', body: 'v', headers: admin });
    await s.fetch('/v1/cache/app2/k', { method: 'PUT', body: 'v', headers: admin });
    await expectProblem(await s.fetch('/v1/cache/app2/k', { method: 'PUT', body: 'x', headers: writer }), 403);
    await expectProblem(await s.fetch('/v1/counters/other/n', { method: 'POST', headers: writer }), 403);
    expect((await s.fetch('/v1/cache/app2/k', { headers: reader })).status).toBe(200); // app* matches app2
    await expectProblem(await s.fetch('/v1/cache/other/k', { headers: reader }), 403);
    await expectProblem(await s.fetch('/v1/namespaces/other', { headers: reader }), 403);

    const res = await s.fetch(
      '/v1/batch',
      jsonInit(
        'POST',
        {
          ops: [
            { op: 'set', ns: 'app1', key: 'b', value: '1' },
            { op: 'set', ns: 'other', key: 'b', value: '1' },
            { op: 'get', ns: 'app2', key: 'k' },
          ],
        },
        writer,
      ),
    );
    const { results } = (await res.json()) as { results: { status: number }[] };
    expect(results.map((r) => r.status)).toEqual([201, 403, 403]);
    expect((await s.fetch('/v1/cache/other/b', { headers: admin })).status).toBe(404);

    const list = async (headers: Record<string, string>) =>
      ((await (await s.fetch('/v1/namespaces', { headers })).json()) as { namespaces: { name: string }[] }).namespaces
        .map((n) => n.name)
        .sort();
    expect(await list(reader)).toEqual(['app1', 'app2']);
    expect(await list(writer)).toEqual(['app1']);
    expect(await list(admin)).toEqual(expect.arrayContaining(['app1', 'app2', 'other']));
    // A confined token's pages hold only its namespaces: with limit=1 the first page is app1, not `aa-first` (sorted before it).
    await s.fetch('/v1/cache/aa-first/k', { method: 'PUT', body: 'v', headers: admin });
    type Page = { namespaces: { name: string }[]; cursor: string };
    const first = (await (await s.fetch('/v1/namespaces?limit=1', { headers: reader })).json()) as Page;
    expect(first.namespaces.map((n) => n.name)).toEqual(['app1']);
    const second = await (await s.fetch(`/v1/namespaces?limit=1&cursor=${first.cursor}`, { headers: reader })).json();
    expect(second).toMatchObject({ namespaces: [{ name: 'app2' }] });
  });

  it('health, readiness, OpenAPI and docs are public; metrics needs METRICS_TOKEN', async () => {
    expect(await (await s.fetch('/health')).json()).toEqual({ status: 'ok' });
    const ready = await s.fetch('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', backend: factory.name });
    const doc = (await (await s.fetch('/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const path of [
      '/v1/cache/{ns}/{key}',
      '/v1/counters/{ns}/{key}',
      '/v1/batch',
      '/v1/namespaces',
      '/v1/namespaces/{ns}',
      '/v1/namespaces/{ns}/invalidate',
      '/v1/namespaces/{ns}/entries',
      '/health',
      '/health/ready',
      '/metrics',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(Object.keys(doc.paths['/v1/cache/{ns}/{key}'] ?? {}).sort()).toEqual(['delete', 'get', 'head', 'patch', 'put']);
    const docs = await s.fetch('/docs');
    expect(docs.status).toBe(200);
    const page = await docs.text();
    expect(page).toContain('/openapi.json');
    // Self-contained: the page loads Swagger UI from this server, not from a CDN.
    expect(page).not.toMatch(/https?:\/\//);
    const assets = [...page.matchAll(/(?:href|src)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    expect(assets.length).toBe(2);
    for (const asset of assets) {
      const res = await s.fetch(asset);
      expect(res.status, asset).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/(css|javascript)/);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
    await expectProblem(await s.fetch('/docs/assets/swagger-ui-dist/package.json'), 404);
    const denied = await s.fetch('/metrics');
    await expectProblem(denied, 401);
    await expectProblem(await s.fetch('/metrics', { headers: bearer('admin-token-0001') }), 401);
    const metrics = await s.fetch('/metrics', { headers: bearer('metrics-secret') });
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/cacheport_http_requests_total\{method="GET",route="\/v1\/cache\/:ns\/\*",status="200"\} \d+/);
    expect(text).toContain('cacheport_http_request_duration_seconds_bucket');
    // Background calls (read-count flushes, the namespace-label refresh) may be in flight at one scrape: the
    // gauge must come back to 0 once they finish (a leaked count never would).
    const idle = new RegExp(`cacheport_backend_calls_in_flight\\{backend="${factory.name}"\\} 0\\n`);
    let inFlight = text;
    for (let i = 0; i < 50 && !idle.test(inFlight); i++) {
      await sleep(100);
      inFlight = await (await s.fetch('/metrics', { headers: bearer('metrics-secret') })).text();
    }
    expect(inFlight).toMatch(idle);
    expect(text).toMatch(new RegExp(`cacheport_backend_pool_size\\{backend="${factory.name}"\\} ${factory.name === 'postgres' ? 4 : 1}`));
    // app1 holds entries but was never configured: its reads are summed with every other such namespace.
    expect(text).toMatch(/cacheport_cache_lookups_total\{namespace="_other",result="hit"\}/);
    expect(text).not.toContain('namespace="app1"');
  });

  it('unknown routes are 404 and wrong methods 405, both problem+json', async () => {
    await expectProblem(await s.fetch('/v1/nothing-here', { headers: bearer('admin-token-0001') }), 404);
    await expectProblem(await s.fetch('/nothing'), 404);
    const res = await s.fetch('/v1/namespaces', { method: 'POST', headers: bearer('admin-token-0001') });
    await expectProblem(res, 405);
    expect(res.headers.get('allow')).toContain('GET');
    await expectProblem(await s.fetch('/health', { method: 'DELETE' }), 405);
  });

  it('JSON bodies: exactly 2 MiB accepted, one byte more 413', async () => {
    const admin = { ...bearer('admin-token-0001'), 'content-type': 'application/json' };
    // Bodies are strict (no extra field to pad with): pad with JSON whitespace.
    const frame = JSON.stringify({ ops: [] });
    const body = (size: number) => frame + ' '.repeat(size - frame.length);
    expect(body(2 * 1024 * 1024)).toHaveLength(2 * 1024 * 1024);
    expect((await s.fetch('/v1/batch', { method: 'POST', body: body(2 * 1024 * 1024), headers: admin })).status).toBe(200);
    await expectProblem(await s.fetch('/v1/batch', { method: 'POST', body: body(2 * 1024 * 1024 + 1), headers: admin }), 413);
  });
});

describe('anonymous serving', () => {
  it('is refused on a non-loopback bind without tokens, with a message on how to configure them', async () => {
    expect(() => createAuthenticator(loadConfig({ HOST: '0.0.0.0' }))).toThrow(ConfigError);
    expect(() => createAuthenticator(loadConfig({ HOST: '0.0.0.0' }))).toThrow(/CACHE_TOKENS.*CACHE_ALLOW_ANONYMOUS=true/s);
    await expect(
      startServer(loadConfig({ HOST: '0.0.0.0', PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://root@127.0.0.1:1/none' })),
    ).rejects.toThrow(ConfigError);
    expect(createAuthenticator(loadConfig({ HOST: '0.0.0.0', CACHE_ALLOW_ANONYMOUS: 'true' })).anonymous).toBe(true);
    expect(createAuthenticator(loadConfig({ HOST: '127.0.0.1' })).anonymous).toBe(true);
    expect(createAuthenticator(loadConfig({ HOST: '::1' })).anonymous).toBe(true);
    expect(createAuthenticator(loadConfig({ HOST: '0.0.0.0', CACHE_TOKENS: JSON.stringify(TOKENS) })).anonymous).toBe(false);
  });

  it('rejects malformed token configuration', () => {
    for (const tokens of [
      'not json',
      '{}',
      '[{"token":"short","scopes":["read"]}]',
      '[{"token":"long-enough-token","scopes":["root"]}]',
      '[{"token":"long-enough-token","scopes":["read"],"namespaces":["A*"]}]',
    ]) {
      expect(() => createAuthenticator(loadConfig({ CACHE_TOKENS: tokens })), tokens).toThrow(ConfigError);
    }
  });
});

/** A port whose backend is unreachable: every route that needs it answers 503 within the timeout. */
function unreachablePort(name: string): CachePort {
  const options = { ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 500 };
  return name === 'postgres'
    ? createPostgresPort({ ...options, url: 'postgres://root@127.0.0.1:1/test', schema: 'cp_unreachable', poolMax: 2 })
    : createRedisPort({ ...options, url: 'redis://127.0.0.1:1', prefix: 'cp_unreachable' });
}

describe.each(BACKENDS)('HTTP with the $name backend unreachable', (factory) => {
  it('answers 503 problem+json within the timeout, and /health stays 200', async () => {
    const port = unreachablePort(factory.name);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      BACKEND_TIMEOUT_MS: '500',
      REDIS_COMMAND_TIMEOUT_MS: '500',
    });
    const server = await startServer(config, { port, logger: createLogger('silent'), worker: false });
    try {
      const started = Date.now();
      await expectProblem(await fetch(`${server.url}/v1/cache/ns/k`), 503);
      await expectProblem(await fetch(`${server.url}/v1/cache/ns/k`, { method: 'PUT', body: 'x' }), 503);
      await expectProblem(await fetch(`${server.url}/v1/namespaces`), 503);
      await expectProblem(await fetch(`${server.url}/v1/namespaces/ns/keys`), 503);
      await expectProblem(await fetch(`${server.url}/v1/namespaces/ns/top`), 503);
      await expectProblem(await fetch(`${server.url}/v1/namespaces/ns/entries`, jsonInit('PATCH', { ttl: '30s' })), 503);
      expect(Date.now() - started).toBeLessThan(15_000);
      const ready = await fetch(`${server.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'unavailable', backend: factory.name });
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
    } finally {
      await server.close();
      await port.close().catch(() => undefined);
    }
  });
});

describe.each(BACKENDS)('HTTP on $name: a bug in a handler', (factory) => {
  it('answers 500 problem+json without leaking the error', async () => {
    const backend = await factory.create();
    const broken = new Proxy(backend.port, {
      get(target, prop, receiver) {
        if (prop === 'get') return () => Promise.reject(new Error('secret internal detail'));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const server = await startServer(loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent' }), {
      port: broken,
      logger: createLogger('silent'),
      worker: false,
    });
    try {
      const res = await fetch(`${server.url}/v1/cache/ns/k`);
      const problem = await expectProblem(res, 500);
      expect(JSON.stringify(problem)).not.toContain('secret');
      expect((await fetch(`${server.url}/v1/cache/ns/k`, { method: 'PUT', body: 'x' })).status).toBe(201);
    } finally {
      await server.close();
      await backend.cleanup();
    }
  });
});
