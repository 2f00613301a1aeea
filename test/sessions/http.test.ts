/**
 * Sessions and presence over real HTTP, on every backend: status codes,
 * bodies, scopes, limits and the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sleep } from './inspect.js';

const TOKENS = JSON.stringify([
  { token: 'writer-token', scopes: ['read', 'write'], namespaces: ['*'] },
  { token: 'reader-token', scopes: ['read'], namespaces: ['*'] },
]);
const MIN = 60_000;

describe.each(BACKENDS)('sessions and presence over HTTP on $name', (factory) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer(factory, { CACHE_TOKENS: TOKENS });
  });
  afterAll(async () => {
    await server?.stop();
  });

  function call(
    method: string,
    path: string,
    body?: unknown,
    token = 'writer-token',
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    return server.fetch(path, init);
  }

  async function createSession(body: Record<string, unknown>): Promise<{ id: string; subject: string; expiresAt: string }> {
    const res = await call('POST', '/v1/sessions', body);
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; subject: string; expiresAt: string };
  }

  async function expectProblem(res: Response, status: number): Promise<Record<string, unknown>> {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    return (await res.json()) as Record<string, unknown>;
  }

  describe('sessions', () => {
    it('creates with the default ttl (30m), reads, slides, updates and revokes', async () => {
      const before = Date.now();
      const created = await createSession({ subject: 'alice', data: { role: 'admin' } });
      expect(created.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.subject).toBe('alice');
      expect(created.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const expiresIn = Date.parse(created.expiresAt) - before;
      expect(expiresIn).toBeGreaterThanOrEqual(30 * MIN - 2000);
      expect(expiresIn).toBeLessThanOrEqual(30 * MIN + 10_000);

      await sleep(20);
      const got = await call('GET', `/v1/sessions/${created.id}`);
      expect(got.status).toBe(200);
      expect(got.headers.get('cache-control')).toBe('no-store');
      const session = (await got.json()) as Record<string, string>;
      expect(session).toEqual({ subject: 'alice', data: { role: 'admin' }, createdAt: expect.any(String), expiresAt: expect.any(String) });
      expect(Date.parse(session.expiresAt as string)).toBeGreaterThan(Date.parse(created.expiresAt));
      expect(Date.parse(session.createdAt as string)).toBeLessThanOrEqual(Date.parse(session.expiresAt as string) - 30 * MIN);

      const patched = await call('PATCH', `/v1/sessions/${created.id}`, { data: { role: 'user', n: [1, 2] } });
      expect(patched.status).toBe(200);
      expect(((await (await call('GET', `/v1/sessions/${created.id}`)).json()) as { data: unknown }).data).toEqual({
        role: 'user',
        n: [1, 2],
      });

      expect((await call('DELETE', `/v1/sessions/${created.id}`)).status).toBe(204);
      await expectProblem(await call('GET', `/v1/sessions/${created.id}`), 404);
      await expectProblem(await call('PATCH', `/v1/sessions/${created.id}`, { data: {} }), 404);
      expect((await call('DELETE', `/v1/sessions/${created.id}`)).status).toBe(204); // idempotent
    });

    it('caps sliding at maxAge', async () => {
      const created = await createSession({ subject: 'capped', ttl: '10m', maxAge: '10m' });
      await sleep(20);
      const session = (await (await call('GET', `/v1/sessions/${created.id}`)).json()) as { expiresAt: string };
      expect(session.expiresAt).toBe(created.expiresAt);
    });

    it('expires after ttl', async () => {
      const created = await createSession({ subject: 'short', ttl: '300ms', maxAge: '1m' });
      await sleep(Date.parse(created.expiresAt) + 300 - Date.now());
      await expectProblem(await call('GET', `/v1/sessions/${created.id}`), 404);
    });

    it('revokes every session of a subject', async () => {
      const ids = [await createSession({ subject: 'bob' }), await createSession({ subject: 'bob' })].map((s) => s.id);
      const other = await createSession({ subject: 'bobby' });
      const res = await call('DELETE', '/v1/sessions?subject=bob');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ revoked: 2 });
      for (const id of ids) expect((await call('GET', `/v1/sessions/${id}`)).status).toBe(404);
      expect((await call('GET', `/v1/sessions/${other.id}`)).status).toBe(200);
      expect(await (await call('DELETE', '/v1/sessions?subject=nobody')).json()).toEqual({ revoked: 0 });
      await expectProblem(await call('DELETE', '/v1/sessions'), 400);
    });

    it('answers 404 for tampered, guessed and malformed ids', async () => {
      const created = await createSession({ subject: 'target' });
      const tampered = created.id.slice(0, -1) + (created.id.endsWith('A') ? 'B' : 'A');
      for (const id of [tampered, 'A'.repeat(43), 'short', created.id.slice(0, 42) + '%21']) {
        await expectProblem(await call('GET', `/v1/sessions/${id}`), 404);
      }
      expect((await call('GET', `/v1/sessions/${created.id}`)).status).toBe(200);
    });

    it('rejects invalid input with 400 naming the field', async () => {
      const cases: [unknown, string][] = [
        [{ subject: 's', ttl: '10m', maxAge: '5m' }, 'maxAge'],
        [{ subject: 's', ttl: '8d' }, 'maxAge'], // the default maxAge (7d) is below ttl
        [{ subject: 's', ttl: '1.5s' }, 'ttl'],
        [{ subject: 's', ttl: 0 }, 'ttl'],
        [{ subject: '' }, 'subject'],
        [{ subject: 'x'.repeat(257) }, 'subject'],
        [{ ttl: '1m' }, 'subject'],
        [{ subject: 's', data: [1, 2] }, 'data'],
        [{ subject: 's', data: 'text' }, 'data'],
      ];
      for (const [body, field] of cases) {
        const problem = await expectProblem(await call('POST', '/v1/sessions', body), 400);
        const params = problem['invalid-params'] as { name: string }[];
        expect(params.map((p) => p.name)).toContain(field);
      }
    });

    it('limits data to 64 KiB (inclusive) with 413', async () => {
      const fits = { x: 'a'.repeat(64 * 1024 - 8) };
      const created = await createSession({ subject: 'big', data: fits });
      await expectProblem(await call('POST', '/v1/sessions', { subject: 'big', data: { x: 'a'.repeat(64 * 1024 - 7) } }), 413);
      await expectProblem(await call('PATCH', `/v1/sessions/${created.id}`, { data: { x: 'a'.repeat(64 * 1024 - 7) } }), 413);
      expect(((await (await call('GET', `/v1/sessions/${created.id}`)).json()) as { data: unknown }).data).toEqual(fits);
    });

    it('needs a JSON body (415) and the write scope, GET included', async () => {
      await expectProblem(await call('POST', '/v1/sessions', 'subject=a', 'writer-token', { 'content-type': 'text/plain' }), 415);
      const created = await createSession({ subject: 'scoped' });
      await expectProblem(await call('POST', '/v1/sessions', { subject: 'x' }, 'reader-token'), 403);
      await expectProblem(await call('GET', `/v1/sessions/${created.id}`, undefined, 'reader-token'), 403);
      await expectProblem(await call('DELETE', '/v1/sessions?subject=scoped', undefined, 'reader-token'), 403);
      const anonymous = await server.fetch(`/v1/sessions/${created.id}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await call('GET', `/v1/sessions/${created.id}`)).status).toBe(200);
    });
  });

  describe('presence', () => {
    it('joins, lists in name order with the total, and leaves', async () => {
      expect((await call('PUT', '/v1/presence/room.1/bob', { ttl: '60s', data: { status: 'away' } })).status).toBe(204);
      expect((await call('PUT', '/v1/presence/room.1/alice')).status).toBe(204); // no body: ttl 60s, data null
      expect((await call('PUT', '/v1/presence/room.1/carol', {})).status).toBe(204);

      const res = await call('GET', '/v1/presence/room.1', undefined, 'reader-token');
      expect(res.status).toBe(200);
      const list = (await res.json()) as { count: number; members: { member: string; data: unknown; expiresAt: string }[] };
      expect(list.count).toBe(3);
      expect(list.members.map((m) => m.member)).toEqual(['alice', 'bob', 'carol']);
      expect(list.members[0]?.data).toBeNull();
      expect(list.members[1]?.data).toEqual({ status: 'away' });
      const left = Date.parse(list.members[0]?.expiresAt as string) - Date.now();
      expect(left).toBeGreaterThan(50_000);
      expect(left).toBeLessThanOrEqual(61_000);

      const page = (await (await call('GET', '/v1/presence/room.1?limit=2')).json()) as { count: number; members: unknown[] };
      expect(page.count).toBe(3);
      expect(page.members).toHaveLength(2);

      expect((await call('DELETE', '/v1/presence/room.1/bob')).status).toBe(204);
      expect((await call('DELETE', '/v1/presence/room.1/bob')).status).toBe(204);
      expect(((await (await call('GET', '/v1/presence/room.1')).json()) as { count: number }).count).toBe(2);
    });

    it('answers count 0 for an unknown channel', async () => {
      expect(await (await call('GET', '/v1/presence/nobody-here')).json()).toEqual({ count: 0, members: [] });
    });

    it('drops members whose heartbeat lapsed', async () => {
      expect((await call('PUT', '/v1/presence/lapse/m1', { ttl: '300ms' })).status).toBe(204);
      const sent = Date.now();
      expect(((await (await call('GET', '/v1/presence/lapse')).json()) as { count: number }).count).toBe(1);
      await sleep(sent + 700 - Date.now());
      expect(await (await call('GET', '/v1/presence/lapse')).json()).toEqual({ count: 0, members: [] });
    });

    it('validates names, ttl, limit and data size', async () => {
      await expectProblem(await call('PUT', '/v1/presence/a%20b/m', {}), 400);
      await expectProblem(await call('PUT', '/v1/presence/room/m%2Fx', {}), 400);
      await expectProblem(await call('PUT', '/v1/presence/room/m', { ttl: '1.5s' }), 400);
      await expectProblem(await call('PUT', '/v1/presence/room/m', { data: [1] }), 400);
      await expectProblem(await call('GET', '/v1/presence/room?limit=0'), 400);
      await expectProblem(await call('GET', '/v1/presence/room?limit=ten'), 400);
      expect((await call('PUT', '/v1/presence/room/m', { data: { x: 'a'.repeat(4096 - 8) } })).status).toBe(204);
      await expectProblem(await call('PUT', '/v1/presence/room/m', { data: { x: 'a'.repeat(4096 - 7) } }), 413);
      await expectProblem(await call('PUT', '/v1/presence/room/m', 'ttl=5', 'writer-token', { 'content-type': 'text/plain' }), 415);
    });

    it('needs write to change and read to list', async () => {
      await expectProblem(await call('PUT', '/v1/presence/room/r', {}, 'reader-token'), 403);
      await expectProblem(await call('DELETE', '/v1/presence/room/r', undefined, 'reader-token'), 403);
      expect((await call('GET', '/v1/presence/room', undefined, 'reader-token')).status).toBe(200);
      expect((await server.fetch('/v1/presence/room')).status).toBe(401);
    });
  });

  it('documents every route in /openapi.json', async () => {
    const doc = (await (await server.fetch('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/sessions'] ?? {}).sort()).toEqual(['delete', 'post']);
    expect(Object.keys(doc.paths['/v1/sessions/{id}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(doc.paths['/v1/presence/{channel}/{member}'] ?? {}).sort()).toEqual(['delete', 'put']);
    expect(Object.keys(doc.paths['/v1/presence/{channel}'] ?? {})).toEqual(['get']);
  });
});
