/**
 * Hardening of the HTTP layer against a hostile client, on each backend:
 * authorization before the body is read, JSON nesting and strictness, a
 * lock waiter that disconnects, coordination names confined by their scope,
 * the bounded batch answer, metric labels, tags in UTF-8, dot segments in
 * keys, aborted uploads, `__proto__` in JSON data and CORS.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/app.js';
import { BACKENDS } from '../support/backends.js';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit, sleep } from './helpers.js';

const TOKENS = [
  { token: 'hard-admin-0001', scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: 'hard-reader-001', scopes: ['read'], namespaces: ['*'] },
  { token: 'hard-tenant-a01', scopes: ['read', 'write'], namespaces: ['a-*'] },
];
const admin = { authorization: 'Bearer hard-admin-0001' };
const reader = { authorization: 'Bearer hard-reader-001' };
const tenantA = { authorization: 'Bearer hard-tenant-a01' };
const MiB = 1024 * 1024;
let counter = 0;
const fresh = (label: string) => `${label}-${Date.now().toString(36)}-${counter++}`;

/** A request with a JSON body given as text (as the admin). */
const textInit = (method: string, body: string): RequestInit => ({
  method,
  headers: { ...admin, 'content-type': 'application/json' },
  body,
});

/** JSON text whose deepest array sits at `depth` (the outer object is level 1). */
function nested(depth: number): string {
  return `{"ops":[{"op":"get","ns":"a-x","key":"k","tags":${'['.repeat(depth - 3)}${']'.repeat(depth - 3)}}]}`;
}

describe.each(BACKENDS)('HTTP hardening on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS), CACHE_MAX_BATCH_RESPONSE_BYTES: '4096' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  describe('authorization comes before the body is read or parsed', () => {
    it('a token without the scope gets 403, never 400, 413 or 415', async () => {
      const deep = '['.repeat(2 * MiB);
      const asJson = { 'content-type': 'application/json' };
      const cases: [string, string, Record<string, string>, string][] = [
        ['POST', '/v1/locks/a-job', { ...reader, ...asJson }, deep],
        ['POST', '/v1/ratelimit', { ...reader, 'content-type': 'text/plain' }, 'key=k'],
        ['POST', '/v1/sessions', { ...reader, ...asJson }, '{not json'],
        ['PUT', '/v1/presence/a-room/me', { ...reader, 'content-type': 'text/plain' }, 'x'],
        ['PUT', '/v1/namespaces/a-ns', { ...tenantA, 'content-type': 'text/plain' }, 'x'],
        ['PUT', '/v1/namespaces/b-ns', { ...tenantA, ...asJson }, '{"maxEntries": "many"}'],
        ['POST', '/v1/batch', { ...reader, ...asJson }, JSON.stringify({ ops: [] }) + ' '.repeat(2 * MiB)],
        ['POST', '/v1/counters/b-ns/n', { ...tenantA, ...asJson }, deep],
        ['PATCH', '/v1/cache/b-ns/k', { ...tenantA, ...asJson }, '{"nope": 1}'],
        ['PUT', '/v1/cache/b-ns/', { ...tenantA }, 'x'],
        ['POST', '/v1/namespaces/b-ns/invalidate', { ...tenantA, 'content-type': 'text/plain' }, 'x'],
      ];
      for (const [method, path, headers, body] of cases) {
        const res = await s.fetch(path, { method, headers, body });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
        await res.arrayBuffer();
      }
    });

    it('JSON nested deeper than 32 levels is 400 without parsing; 32 levels are accepted', async () => {
      const ok = await s.fetch('/v1/batch', textInit('POST', nested(32)));
      expect(ok.status).toBe(200);
      const tooDeep = await s.fetch('/v1/batch', textInit('POST', nested(33)));
      const problem = await expectProblem(tooDeep, 400);
      expect(problem.detail).toMatch(/32/);
      // Strings do not count: brackets inside a string are text.
      const inString = await s.fetch('/v1/batch', jsonInit('POST', { ops: [{ op: 'get', ns: 'a-x', key: '['.repeat(100) }] }, admin));
      expect(inString.status).toBe(200);
      const locks = await s.fetch(`/v1/locks/${fresh('a-deep')}`, textInit('POST', '['.repeat(2 * MiB)));
      await expectProblem(locks, 400);
    });

    it('an over-limit JSON body from a token with the scope is still 413', async () => {
      const body = JSON.stringify({ ops: [] }) + ' '.repeat(2 * MiB);
      await expectProblem(await s.fetch('/v1/batch', textInit('POST', body)), 413);
    });
  });

  describe('JSON bodies are strict', () => {
    it('an unknown field is 400 naming it, on every JSON route', async () => {
      const lock = fresh('a-strict');
      const cases: [string, string, unknown, string][] = [
        ['POST', `/v1/locks/${lock}`, { ttl: '5s', wiat: '5s' }, 'wiat'],
        ['PATCH', `/v1/locks/${lock}`, { token: 't', ttl: '5s', extra: 1 }, 'extra'],
        ['POST', '/v1/ratelimit', { key: 'a-k', limit: 1, window: '1m', burst: 2 }, 'burst'],
        ['POST', '/v1/sessions', { subject: 'a-u', role: 'x' }, 'role'],
        ['PUT', '/v1/presence/a-room/m', { ttl: '5s', status: 'x' }, 'status'],
        ['POST', '/v1/batch', { ops: [], pad: 'x' }, 'pad'],
        ['PUT', '/v1/namespaces/a-strict', { durable: false, size: 1 }, 'size'],
        ['POST', '/v1/counters/a-strict/n', { by: 1, step: 2 }, 'step'],
      ];
      for (const [method, path, body, field] of cases) {
        const problem = await expectProblem(await s.fetch(path, jsonInit(method, body, admin)), 400);
        expect(
          problem['invalid-params']?.map((p) => p.name),
          `${method} ${path}`,
        ).toContain(field);
      }
      expect(await (await s.fetch(`/v1/locks/${lock}`, { headers: admin })).json()).toMatchObject({ held: false });
      const session = (await (await s.fetch('/v1/sessions', jsonInit('POST', { subject: 'a-u' }, admin))).json()) as { id: string };
      const patchInit = jsonInit('PATCH', { data: {}, merge: true }, admin);
      const patch = await expectProblem(await s.fetch(`/v1/sessions/${session.id}`, patchInit), 400);
      expect(patch['invalid-params']?.map((p) => p.name)).toContain('merge');
    });

    it('__proto__ and constructor are unknown fields too: invalidate and namespace PUT refuse them and change nothing', async () => {
      const ns = fresh('a-proto-ns');
      expect((await s.fetch(`/v1/cache/${ns}/ab`, { method: 'PUT', body: 'v', headers: admin })).status).toBe(201);
      for (const body of ['{"prefix":"a","__proto__":{}}', '{"prefix":"a","constructor":1}', '{"__proto__":{"tags":["x"]},"prefix":"a"}']) {
        const problem = await expectProblem(await s.fetch(`/v1/namespaces/${ns}/invalidate`, textInit('POST', body)), 400);
        expect(problem.detail, body).toMatch(/__proto__|constructor/);
      }
      expect((await s.fetch(`/v1/cache/${ns}/ab`, { headers: admin })).status).toBe(200);
      await expectProblem(await s.fetch(`/v1/namespaces/${ns}`, textInit('PUT', '{"maxEntries":5,"constructor":1}')), 400);
    });

    it("an unknown field in a batch op is that op's 400; the others run", async () => {
      const res = await s.fetch(
        '/v1/batch',
        jsonInit(
          'POST',
          {
            ops: [
              { op: 'set', ns: 'a-batch', key: 'k', value: 'v', wiat: 1 },
              { op: 'set', ns: 'a-batch', key: 'k2', value: 'v' },
            ],
          },
          admin,
        ),
      );
      const { results } = (await res.json()) as { results: { status: number; 'invalid-params'?: { name: string }[] }[] };
      expect(results.map((r) => r.status)).toEqual([400, 201]);
      expect(results[0]?.['invalid-params']?.map((p) => p.name)).toEqual(['ops[0].wiat']);
      expect((await s.fetch('/v1/cache/a-batch/k', { headers: admin })).status).toBe(404);
    });

    it('__proto__ in session and presence data is stored faithfully', async () => {
      const body = '{"subject":"a-proto","data":{"__proto__":{"polluted":true},"a":1}}';
      const created = await s.fetch('/v1/sessions', textInit('POST', body));
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      const read = JSON.parse(await (await s.fetch(`/v1/sessions/${id}`, { headers: admin })).text()) as { data: Record<string, unknown> };
      expect(Object.keys(read.data).sort()).toEqual(['__proto__', 'a']);
      expect(Object.getOwnPropertyDescriptor(read.data, '__proto__')?.value).toEqual({ polluted: true });
      const patched = await s.fetch(`/v1/sessions/${id}`, textInit('PATCH', '{"data":{"__proto__":1}}'));
      expect(patched.status).toBe(200);
      const again = JSON.parse(await (await s.fetch(`/v1/sessions/${id}`, { headers: admin })).text()) as { data: Record<string, unknown> };
      expect(Object.keys(again.data)).toEqual(['__proto__']);

      const channel = fresh('a-proto');
      const put = await s.fetch(`/v1/presence/${channel}/m`, textInit('PUT', '{"data":{"__proto__":"x"}}'));
      expect(put.status).toBe(204);
      const listed = await (await s.fetch(`/v1/presence/${channel}`, { headers: admin })).text();
      const list = JSON.parse(listed) as { members: { data: Record<string, unknown> }[] };
      expect(Object.keys(list.members[0]?.data ?? {})).toEqual(['__proto__']);
    });
  });

  describe('locks', () => {
    it('a waiter whose client disconnects never takes the lock', async () => {
      const name = fresh('a-abandon');
      const acquired = await s.fetch(`/v1/locks/${name}`, jsonInit('POST', { ttl: '30s' }, admin));
      const holder = (await acquired.json()) as { token: string; fence: number };
      const client = new AbortController();
      const waitInit = { ...jsonInit('POST', { ttl: '30s', wait: '20s' }, admin), signal: client.signal };
      const waiting = s.fetch(`/v1/locks/${name}`, waitInit).catch((e: unknown) => e);
      await sleep(400);
      client.abort();
      await waiting;
      // Released right after the waiter left: its next attempt (if it made one) would win.
      const release = { method: 'DELETE', headers: { ...admin, 'lock-token': holder.token } };
      expect((await s.fetch(`/v1/locks/${name}`, release)).status).toBe(204);
      await sleep(2500);
      expect(await (await s.fetch(`/v1/locks/${name}`, { headers: admin })).json()).toMatchObject({ held: false });
    });
  });

  describe('coordination names are confined by their scope (before the first ":")', () => {
    it('locks, rate limits and presence of another tenant are 403; its own are allowed', async () => {
      const own = fresh('a-t');
      const other = fresh('b-t');
      expect((await s.fetch(`/v1/locks/${own}:job`, jsonInit('POST', { ttl: '5s' }, tenantA))).status).toBe(201);
      expect((await s.fetch(`/v1/locks/${own}`, { headers: tenantA })).status).toBe(200);
      const lease = (await (await s.fetch(`/v1/locks/${other}:job`, jsonInit('POST', { ttl: '30s' }, admin))).json()) as { token: string };
      await expectProblem(await s.fetch(`/v1/locks/${other}:job`, jsonInit('POST', { ttl: '5s' }, tenantA)), 403);
      await expectProblem(await s.fetch(`/v1/locks/${other}:job`, { headers: tenantA }), 403);
      await expectProblem(await s.fetch(`/v1/locks/${other}:job`, jsonInit('PATCH', { token: lease.token, ttl: '1s' }, tenantA)), 403);
      const release = { method: 'DELETE', headers: { ...tenantA, 'lock-token': lease.token } };
      await expectProblem(await s.fetch(`/v1/locks/${other}:job`, release), 403);
      await expectProblem(await s.fetch('/v1/locks/b-plain', { headers: tenantA }), 403);
      expect(await (await s.fetch(`/v1/locks/${other}:job`, { headers: admin })).json()).toMatchObject({ held: true });

      const limit = { limit: 1, window: '1h', algorithm: 'fixed-window' };
      await expectProblem(await s.fetch('/v1/ratelimit', jsonInit('POST', { key: `${other}:login`, ...limit }, tenantA)), 403);
      expect((await s.fetch('/v1/ratelimit', jsonInit('POST', { key: `${other}:login`, ...limit }, admin))).status).toBe(200);
      expect((await s.fetch('/v1/ratelimit', jsonInit('POST', { key: `${own}:login`, ...limit }, tenantA))).status).toBe(200);

      expect((await s.fetch(`/v1/presence/${other}:room/m`, jsonInit('PUT', {}, admin))).status).toBe(204);
      await expectProblem(await s.fetch(`/v1/presence/${other}:room`, { headers: tenantA }), 403);
      await expectProblem(await s.fetch(`/v1/presence/${other}:room/x`, jsonInit('PUT', {}, tenantA)), 403);
      await expectProblem(await s.fetch(`/v1/presence/${other}:room/m`, { method: 'DELETE', headers: tenantA }), 403);
      expect((await s.fetch(`/v1/presence/${own}:room/m`, jsonInit('PUT', {}, tenantA))).status).toBe(204);
      expect(await (await s.fetch(`/v1/presence/${other}:room`, { headers: admin })).json()).toMatchObject({ count: 1 });
    });

    it('sessions of another tenant: 403 by subject, 404 by id, and nothing changes', async () => {
      const subject = `${fresh('b-s')}:user-1`;
      const create = await s.fetch('/v1/sessions', jsonInit('POST', { subject, data: { v: 1 } }, admin));
      const created = (await create.json()) as { id: string };
      await expectProblem(await s.fetch('/v1/sessions', jsonInit('POST', { subject }, tenantA)), 403);
      const bySubject = `/v1/sessions?subject=${encodeURIComponent(subject)}`;
      await expectProblem(await s.fetch(bySubject, { method: 'DELETE', headers: tenantA }), 403);
      await expectProblem(await s.fetch(`/v1/sessions/${created.id}`, { headers: tenantA }), 404);
      await expectProblem(await s.fetch(`/v1/sessions/${created.id}`, jsonInit('PATCH', { data: { v: 2 } }, tenantA)), 404);
      await expectProblem(await s.fetch(`/v1/sessions/${created.id}`, { method: 'DELETE', headers: tenantA }), 404);
      const read = await s.fetch(`/v1/sessions/${created.id}`, { headers: admin });
      expect(read.status).toBe(200);
      expect(await read.json()).toMatchObject({ subject, data: { v: 1 } });

      const mine = (await (await s.fetch('/v1/sessions', jsonInit('POST', { subject: 'a-s:user-2' }, tenantA))).json()) as { id: string };
      expect((await s.fetch(`/v1/sessions/${mine.id}`, { headers: tenantA })).status).toBe(200);
      expect((await s.fetch(`/v1/sessions/${mine.id}`, jsonInit('PATCH', { data: { x: 1 } }, tenantA))).status).toBe(200);
      const revoke = await s.fetch('/v1/sessions?subject=a-s%3Auser-2', { method: 'DELETE', headers: tenantA });
      expect(await revoke.json()).toEqual({ revoked: 1 });
    });

    it("a confined token's session checks slide no expiry: PATCH of its own, GET/PATCH/DELETE of another tenant's", async () => {
      const short = { ttl: '2s', maxAge: '1h' };
      const own = (await (await s.fetch('/v1/sessions', jsonInit('POST', { subject: 'a-s:slide', ...short }, tenantA))).json()) as {
        id: string;
      };
      const other = (await (await s.fetch('/v1/sessions', jsonInit('POST', { subject: `${fresh('b-s')}:x`, ...short }, admin))).json()) as {
        id: string;
      };
      await sleep(1200);
      expect((await s.fetch(`/v1/sessions/${own.id}`, jsonInit('PATCH', { data: { x: 1 } }, tenantA))).status).toBe(200);
      await expectProblem(await s.fetch(`/v1/sessions/${other.id}`, { headers: tenantA }), 404);
      await expectProblem(await s.fetch(`/v1/sessions/${other.id}`, jsonInit('PATCH', { data: {} }, tenantA)), 404);
      await expectProblem(await s.fetch(`/v1/sessions/${other.id}`, { method: 'DELETE', headers: tenantA }), 404);
      // 2.4 s after creation both 2 s sessions have lapsed, unless a check above slid them.
      await sleep(1200);
      await expectProblem(await s.fetch(`/v1/sessions/${own.id}`, { headers: admin }), 404);
      await expectProblem(await s.fetch(`/v1/sessions/${other.id}`, { headers: admin }), 404);
    });
  });

  describe('the batch answer is bounded (CACHE_MAX_BATCH_RESPONSE_BYTES=4096 here)', () => {
    it('once 4096 value bytes are returned, every further get is a per-op 413; other ops still run', async () => {
      const ns = fresh('a-big');
      expect((await s.fetch(`/v1/cache/${ns}/v`, { method: 'PUT', body: 'x'.repeat(1000), headers: admin })).status).toBe(201);
      const ops = [
        ...Array.from({ length: 6 }, () => ({ op: 'get', ns, key: 'v' })),
        { op: 'incr', ns, key: 'n' },
        { op: 'get', ns, key: 'v' },
        { op: 'get', ns, key: 'missing' },
      ];
      const res = await s.fetch('/v1/batch', jsonInit('POST', { ops }, admin));
      expect(res.status).toBe(200);
      const { results } = (await res.json()) as { results: { status: number; value?: string }[] };
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 413, 200, 413, 413]);
      expect(results[4]?.value).toHaveLength(1000);
      expect(results[5]?.value).toBeUndefined();
    });

    it('counts a value as written in the answer: JSON escapes and base64 count, not the stored bytes', async () => {
      const ns = fresh('a-escaped');
      // 1000 control bytes are valid UTF-8 but 6000 bytes of JSON (\u0001 each); 1000 bytes of 0xff are 1336 of base64.
      expect((await s.fetch(`/v1/cache/${ns}/ctl`, { method: 'PUT', body: Buffer.alloc(1000, 1), headers: admin })).status).toBe(201);
      expect((await s.fetch(`/v1/cache/${ns}/bin`, { method: 'PUT', body: Buffer.alloc(1000, 0xff), headers: admin })).status).toBe(201);
      for (const [key, served] of [
        ['ctl', 1],
        ['bin', 4],
      ] as const) {
        const ops = Array.from({ length: 10 }, () => ({ op: 'get', ns, key }));
        const res = await s.fetch('/v1/batch', jsonInit('POST', { ops }, admin));
        const text = await res.text();
        const { results } = JSON.parse(text) as { results: { status: number }[] };
        expect(
          results.filter((r) => r.status === 200),
          key,
        ).toHaveLength(served);
        expect(
          results.filter((r) => r.status === 413),
          key,
        ).toHaveLength(10 - served);
      }
    });
  });

  describe('smaller ones', () => {
    it('Cache-Tag accepts raw UTF-8 and percent-encoding as the same tag', async () => {
      const ns = fresh('a-tags');
      const raw = Buffer.from('café, naïve', 'utf8').toString('latin1');
      expect((await rawRequest(s.url, 'PUT', `/v1/cache/${ns}/one`, { ...admin, 'cache-tag': raw }, 'x')).status).toBe(201);
      expect((await rawRequest(s.url, 'PUT', `/v1/cache/${ns}/two`, { ...admin, 'cache-tag': 'caf%C3%A9' }, 'x')).status).toBe(201);
      const got = await s.fetch(`/v1/cache/${ns}/one`, { headers: admin });
      expect(got.headers.get('cache-tag')).toBe('caf%C3%A9, na%C3%AFve');
      const invalidated = await s.fetch(`/v1/namespaces/${ns}/invalidate`, jsonInit('POST', { tags: ['café'] }, admin));
      expect(await invalidated.json()).toEqual({ deleted: 2 });
      const badTag = { method: 'PUT', body: 'x', headers: { ...admin, 'cache-tag': 'a%ZZ' } };
      await expectProblem(await s.fetch(`/v1/cache/${ns}/bad`, badTag), 400);
    });

    it('a key with a "." or ".." segment is 400 wherever it stands, raw or percent-encoded', async () => {
      const ns = fresh('a-dots');
      for (const key of ['..', '.', '%2e%2e', '%2E', 'x/..', '../x', 'x/%2e%2e', 'x/./y', 'x//y']) {
        for (const [method, family] of [
          ['GET', 'cache'],
          ['PUT', 'cache'],
          ['DELETE', 'cache'],
          ['POST', 'counters'],
        ] as const) {
          const body = method === 'GET' || method === 'DELETE' ? undefined : 'x';
          const res = await rawRequest(s.url, method, `/v1/${family}/${ns}/${key}`, admin, body);
          expect({ key, method, status: res.status }).toEqual({ key, method, status: 400 });
        }
      }
    });

    it('a presence limit outside 1..10000 is 400', async () => {
      await expectProblem(await s.fetch('/v1/presence/a-room?limit=10001', { headers: admin }), 400);
      await expectProblem(await s.fetch('/v1/presence/a-room?limit=0', { headers: admin }), 400);
      expect((await s.fetch('/v1/presence/a-room?limit=10000', { headers: admin })).status).toBe(200);
    });

    it('per-namespace metric series only for configured namespaces; others are _other', async () => {
      const probed = fresh('a-probe');
      const configured = fresh('a-conf');
      expect((await s.fetch(`/v1/namespaces/${configured}`, jsonInit('PUT', { maxEntries: 10 }, admin))).status).toBe(201);
      await s.fetch(`/v1/cache/${probed}/k`, { headers: admin });
      await s.fetch(`/v1/cache/${configured}/k`, { headers: admin });
      await s.fetch('/v1/batch', jsonInit('POST', { ops: [{ op: 'get', ns: probed, key: 'k' }] }, admin));
      const metrics = await (await s.fetch('/metrics')).text();
      expect(metrics).not.toContain(probed);
      expect(metrics).toMatch(new RegExp(`cacheport_cache_lookups_total\\{namespace="${configured}",result="miss"\\} 1`));
      expect(metrics).toMatch(/cacheport_cache_lookups_total\{namespace="_other",result="miss"\} \d+/);
    });
  });
});

describe.each(BACKENDS)('HTTP on $name: aborted uploads and CORS', (factory) => {
  it('an upload the client abandons is recorded as 499, not 500, and logs no error', async () => {
    const backend = await factory.create();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', WORKER: 'off', LOG_LEVEL: 'info' });
    const server = await startServer(config, { port: backend.port, logger, worker: false });
    try {
      const { hostname, port } = new URL(server.url);
      const socket = connect(Number(port), hostname);
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const head = 'PUT /v1/cache/up/k HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n';
      socket.write(head + 'x'.repeat(1000));
      await sleep(300);
      socket.destroy();
      for (let i = 0; i < 50 && !lines.some((l) => l.includes('"route":"/v1/cache/:ns/*"')); i++) await sleep(100);
      const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; status?: number; route?: string });
      expect(records.filter((r) => r.level >= 50)).toEqual([]);
      expect(records.find((r) => r.route === '/v1/cache/:ns/*')).toMatchObject({ status: 499 });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/cacheport_http_requests_total\{method="PUT",route="\/v1\/cache\/:ns\/\*",status="499"\} [1-9]/);
      expect(metrics).not.toMatch(/status="500"/);
      expect((await fetch(`${server.url}/v1/cache/up/k`)).status).toBe(404);
    } finally {
      await server.close();
      await backend.cleanup();
    }
  });

  it('CORS is off unless CORS_ORIGINS is set; then preflight and headers follow the Fetch standard', async () => {
    const off = await startTestServer(factory);
    const on = await startTestServer(factory, { CORS_ORIGINS: 'https://app.example, https://admin.example' });
    try {
      const preflight = {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'authorization, cache-tag',
        },
      };
      const refused = await off.fetch('/v1/cache/ns/k', preflight);
      expect(refused.status).toBe(405);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      const health = await off.fetch('/health', { headers: { origin: 'https://app.example' } });
      expect(health.headers.get('access-control-allow-origin')).toBeNull();

      const allowed = await on.fetch('/v1/cache/ns/k', preflight);
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(allowed.headers.get('access-control-allow-methods')).toContain('PUT');
      expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('cache-tag');
      const put = await on.fetch('/v1/cache/ns/k', { method: 'PUT', body: 'v', headers: { origin: 'https://admin.example' } });
      expect(put.status).toBe(201);
      expect(put.headers.get('access-control-allow-origin')).toBe('https://admin.example');
      expect(put.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('etag');
      expect(put.headers.get('vary')?.toLowerCase()).toContain('origin');
      const foreign = await on.fetch('/v1/cache/ns/k', { headers: { origin: 'https://evil.example' } });
      expect(foreign.status).toBe(200);
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await off.stop();
      await on.stop();
    }
  });
});
