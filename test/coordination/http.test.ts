/**
 * Rate limits and locks over real HTTP against each backend: status codes,
 * bodies and headers per the spec, scopes, OpenAPI entries, and the fail
 * modes with the backend unreachable (rate limits fail open or closed, locks
 * always fail closed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendFactory, BackendName } from '../support/backends.js';
import { BACKENDS } from '../support/backends.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit, sleep } from '../http/helpers.js';

const TOKENS = [
  { token: 'coord-writer-0001', scopes: ['read', 'write'], namespaces: ['*'] },
  { token: 'coord-reader-0001', scopes: ['read'], namespaces: ['*'] },
];
const writer = { authorization: 'Bearer coord-writer-0001' };
const reader = { authorization: 'Bearer coord-reader-0001' };
let counter = 0;
const fresh = (label: string) => `${label}.${Date.now()}-${counter++}`;

interface RateLimitBody {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  retryAfterMs: number;
  degraded?: boolean;
}

describe.each(BACKENDS)('HTTP rate limits and locks on $name', (factory) => {
  let s: TestServer;
  const rateLimit = (body: unknown, headers = writer) => s.fetch('/v1/ratelimit', jsonInit('POST', body, headers));
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('POST /v1/ratelimit: 200 then 429 with RateLimit headers and Retry-After; denied calls consume nothing', async () => {
    const key = fresh('http-rl');
    const first = await rateLimit({ key, limit: 2, window: '1h', algorithm: 'fixed-window' });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await first.json()) as RateLimitBody;
    expect(body).toMatchObject({ allowed: true, limit: 2, remaining: 1, retryAfterMs: 0 });
    expect(body.resetMs).toBeGreaterThan(0);
    expect(body.resetMs).toBeLessThanOrEqual(3_600_000);
    expect(first.headers.get('ratelimit-limit')).toBe('2');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    expect(first.headers.get('ratelimit-reset')).toBe(String(Math.ceil(body.resetMs / 1000)));
    expect(first.headers.get('retry-after')).toBeNull();

    expect((await rateLimit({ key, limit: 2, window: '1h', algorithm: 'fixed-window' })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const denied = await rateLimit({ key, limit: 2, window: 3600, algorithm: 'fixed-window' });
      expect(denied.status).toBe(429);
      const d = (await denied.json()) as RateLimitBody;
      expect(d).toMatchObject({ allowed: false, limit: 2, remaining: 0 });
      expect(d.retryAfterMs).toBeGreaterThan(0);
      expect(denied.headers.get('retry-after')).toBe(String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))));
      expect(denied.headers.get('ratelimit-remaining')).toBe('0');
    }
    const peek = await rateLimit({ key, limit: 2, window: '60m', algorithm: 'fixed-window', cost: 0 });
    expect(peek.status).toBe(200);
    expect(await peek.json()).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('defaults to the sliding window with cost 1, and counts exactly under concurrency', async () => {
    const key = fresh('http-burst');
    const responses = await Promise.all(Array.from({ length: 60 }, () => rateLimit({ key, limit: 20, window: '1d' })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(20);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(40);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    // The default algorithm's state is the sliding window's.
    const explicit = await rateLimit({ key, limit: 20, window: '1d', algorithm: 'sliding-window', cost: 0 });
    expect(await explicit.json()).toMatchObject({ remaining: 0 });
  });

  it('400 for a cost above the limit, bad durations and bad fields; 415 for non-JSON', async () => {
    const cases: [unknown, string][] = [
      [{ key: 'k', limit: 5, window: '1m', cost: 6 }, 'cost'],
      [{ key: 'k', limit: 5, window: '1.5s' }, 'window'],
      [{ key: 'k', limit: 5, window: 0 }, 'window'],
      [{ key: 'k', limit: 5, window: '10 s' }, 'window'],
      [{ key: 'k', limit: 5, window: '366d' }, 'window'],
      [{ key: 'k', limit: 0, window: '1m' }, 'limit'],
      [{ key: 'k', limit: 5, window: '1m', algorithm: 'leaky-bucket' }, 'algorithm'],
      [{ key: '', limit: 5, window: '1m' }, 'key'],
      [{ limit: 5, window: '1m' }, 'key'],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(await rateLimit(body), 400);
      expect(problem.detail).toContain(field);
    }
    const res = await s.fetch('/v1/ratelimit', { method: 'POST', body: 'key=k', headers: { ...writer, 'content-type': 'text/plain' } });
    await expectProblem(res, 415);
  });

  it('locks: acquire 201, held 409 with Retry-After, inspect without token, extend, release', async () => {
    const name = fresh('http-lock');
    const acquired = await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '30s' }, writer));
    expect(acquired.status).toBe(201);
    const lease = (await acquired.json()) as { token: string; fence: number; expiresAt: string };
    expect(lease.token).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(Number.isInteger(lease.fence)).toBe(true);
    expect(lease.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const held = await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: 30 }, writer));
    await expectProblem(held, 409);
    const retryAfter = Number(held.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(25);
    expect(retryAfter).toBeLessThanOrEqual(31);

    const inspected = await s.fetch(`/v1/locks/${name}`, { headers: reader });
    expect(inspected.status).toBe(200);
    const text = await inspected.text();
    expect(text).not.toContain(lease.token);
    expect(JSON.parse(text)).toEqual({ held: true, expiresAt: lease.expiresAt, fence: lease.fence });

    await expectProblem(await s.fetch(`/v1/locks/${name}`, jsonInit('PATCH', { token: 'wrong', ttl: '1m' }, writer)), 409);
    const extended = await s.fetch(`/v1/locks/${name}`, jsonInit('PATCH', { token: lease.token, ttl: '1m' }, writer));
    expect(extended.status).toBe(200);
    const ext = (await extended.json()) as { fence: number; expiresAt: string };
    expect(ext.fence).toBe(lease.fence);
    expect(Date.parse(ext.expiresAt)).toBeGreaterThan(Date.parse(lease.expiresAt));

    await expectProblem(await s.fetch(`/v1/locks/${name}`, { method: 'DELETE', headers: writer }), 400);
    await expectProblem(await s.fetch(`/v1/locks/${name}`, { method: 'DELETE', headers: { ...writer, 'lock-token': 'wrong' } }), 409);
    const released = await s.fetch(`/v1/locks/${name}`, { method: 'DELETE', headers: { ...writer, 'lock-token': lease.token } });
    expect(released.status).toBe(204);
    await expectProblem(await s.fetch(`/v1/locks/${name}`, { method: 'DELETE', headers: { ...writer, 'lock-token': lease.token } }), 404);
    await expectProblem(await s.fetch(`/v1/locks/${name}`, jsonInit('PATCH', { token: lease.token, ttl: '1m' }, writer)), 409);
    expect(await (await s.fetch(`/v1/locks/${name}`, { headers: reader })).json()).toEqual({
      held: false,
      expiresAt: null,
      fence: lease.fence,
    });

    const again = await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '30s' }, writer));
    expect(again.status).toBe(201);
    expect(((await again.json()) as { fence: number }).fence).toBeGreaterThan(lease.fence);
  });

  it('locks: a never-acquired lock is not held with fence null; invalid names and ttls are 400', async () => {
    expect(await (await s.fetch(`/v1/locks/${fresh('never')}`, { headers: reader })).json()).toEqual({
      held: false,
      expiresAt: null,
      fence: null,
    });
    await expectProblem(await s.fetch('/v1/locks/bad%20name', jsonInit('POST', { ttl: '30s' }, writer)), 400);
    await expectProblem(await s.fetch(`/v1/locks/${'x'.repeat(201)}`, { headers: reader }), 400);
    for (const ttl of ['0s', '1.5s', '-1', '2y']) {
      await expectProblem(await s.fetch(`/v1/locks/${fresh('ttl')}`, jsonInit('POST', { ttl }, writer)), 400);
    }
    await expectProblem(await s.fetch(`/v1/locks/${fresh('wait')}`, jsonInit('POST', { ttl: '1s', wait: '0' }, writer)), 400);
  });

  it('locks: POST with wait gets the lock once the holder releases it', async () => {
    const name = fresh('http-wait');
    const first = (await (await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '30s' }, writer))).json()) as {
      token: string;
      fence: number;
    };
    const waiting = s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '30s', wait: '10s' }, writer));
    await sleep(300);
    expect((await s.fetch(`/v1/locks/${name}`, { method: 'DELETE', headers: { ...writer, 'lock-token': first.token } })).status).toBe(204);
    const res = await waiting;
    expect(res.status).toBe(201);
    expect(((await res.json()) as { fence: number }).fence).toBeGreaterThan(first.fence);
  });

  it('locks: POST with wait answers 409 after the wait when the lock stays held', async () => {
    const name = fresh('http-wait-held');
    expect((await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '1m' }, writer))).status).toBe(201);
    const started = Date.now();
    const res = await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '1m', wait: '600ms' }, writer));
    await expectProblem(res, 409);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('scopes: rate limits and lock changes need write, inspecting a lock needs read', async () => {
    const name = fresh('scoped');
    await expectProblem(await rateLimit({ key: 'k', limit: 5, window: '1m' }, reader), 403);
    await expectProblem(await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '30s' }, reader)), 403);
    await expectProblem(await s.fetch(`/v1/locks/${name}`, jsonInit('PATCH', { token: 't', ttl: '30s' }, reader)), 403);
    await expectProblem(await s.fetch(`/v1/locks/${name}`, { method: 'DELETE', headers: { ...reader, 'lock-token': 't' } }), 403);
    expect((await s.fetch(`/v1/locks/${name}`, { headers: reader })).status).toBe(200);
    await expectProblem(await s.fetch(`/v1/locks/${name}`), 401);
    await expectProblem(await s.fetch('/v1/ratelimit', jsonInit('POST', { key: 'k', limit: 5, window: '1m' })), 401);
    // The reader's refused lock changes changed nothing.
    expect(await (await s.fetch(`/v1/locks/${name}`, { headers: reader })).json()).toEqual({ held: false, expiresAt: null, fence: null });
  });

  it('documents the routes in /openapi.json', async () => {
    const doc = (await (await s.fetch('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/ratelimit'] ?? {})).toContain('post');
    expect(Object.keys(doc.paths['/v1/locks/{name}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch', 'post']);
  });
});

/** A server whose backend is a closed TCP port (1 s timeout). */
function unreachableFactory(name: BackendName): BackendFactory {
  return {
    name,
    async create() {
      const port = await createUnreachablePort(name);
      return {
        port,
        scope: 'unreachable',
        sibling: () => {
          throw new Error('an unreachable backend has no siblings');
        },
        cleanup: () => port.close().catch(() => undefined),
      };
    },
  };
}

describe.each(BACKENDS.map((b) => b.name))('HTTP fail modes with %s unreachable', (name) => {
  let open: TestServer;
  let closed: TestServer;
  beforeAll(async () => {
    open = await startTestServer(unreachableFactory(name), { BACKEND_TIMEOUT_MS: '1000' });
    closed = await startTestServer(unreachableFactory(name), { BACKEND_TIMEOUT_MS: '1000', RATE_LIMIT_FAIL_OPEN: 'false' });
  });
  afterAll(async () => {
    await open?.stop();
    await closed?.stop();
  });

  it('rate limits fail open: 200 with degraded: true', async () => {
    const res = await open.fetch('/v1/ratelimit', jsonInit('POST', { key: 'k', limit: 5, window: '1m' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ allowed: true, limit: 5, degraded: true });
    expect(res.headers.get('ratelimit-limit')).toBe('5');
  });

  it('rate limits fail closed when RATE_LIMIT_FAIL_OPEN=false: 503', async () => {
    await expectProblem(await closed.fetch('/v1/ratelimit', jsonInit('POST', { key: 'k', limit: 5, window: '1m' })), 503);
  });

  it('invalid rate-limit input is still 400 in both modes', async () => {
    await expectProblem(await open.fetch('/v1/ratelimit', jsonInit('POST', { key: 'k', limit: 5, window: '1m', cost: 6 })), 400);
    await expectProblem(await closed.fetch('/v1/ratelimit', jsonInit('POST', { key: 'k', limit: 5, window: 'soon' })), 400);
  });

  it('locks always fail closed: 503', async () => {
    await expectProblem(await open.fetch('/v1/locks/job', jsonInit('POST', { ttl: '30s' })), 503);
    await expectProblem(await open.fetch('/v1/locks/job'), 503);
    await expectProblem(await open.fetch('/v1/locks/job', { method: 'DELETE', headers: { 'lock-token': 't' } }), 503);
  });
});
