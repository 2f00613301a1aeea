/**
 * What the server offers for the HTTP adapter (and any careful client), on
 * each backend: Expires-At on GET/HEAD, batch get metadata (meta: true), batch
 * set conditions (ifMatch / ifNoneMatch), batch keys with dot or empty
 * segments, namespace list filters (name / prefix, within a confined token),
 * createdAt of a new session and the non-sliding subject route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit } from './helpers.js';

const ADMIN = 'adapter-support-admin-token-0123456789';
const CONFINED = 'adapter-support-confined-token-012345';
const TOKENS = [
  { token: ADMIN, scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: CONFINED, scopes: ['read', 'write'], namespaces: ['as-app-*', 'as-exact'] },
];

interface BatchResult {
  status: number;
  value?: string;
  etag?: string;
  contentType?: string;
  tags?: string[];
  expiresAt?: string | null;
}

describe.each(BACKENDS)('HTTP support for the adapter on $name', (factory) => {
  let s: TestServer;
  const admin = { authorization: `Bearer ${ADMIN}` };
  const confined = { authorization: `Bearer ${CONFINED}` };
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const batch = async (ops: unknown[]): Promise<BatchResult[]> => {
    const res = await s.fetch('/v1/batch', jsonInit('POST', { ops }, admin));
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: BatchResult[] }).results;
  };

  it('GET and HEAD send Expires-At (ISO, ms) beside max-age when the entry expires, and none without expiry', async () => {
    const before = Date.now();
    await s.fetch('/v1/cache/as-e/timed?ttl=90500ms', { method: 'PUT', body: 'v', headers: admin });
    await s.fetch('/v1/cache/as-e/forever?ttl=none', { method: 'PUT', body: 'v', headers: admin });
    for (const method of ['GET', 'HEAD']) {
      const timed = await s.fetch('/v1/cache/as-e/timed', { method, headers: admin });
      const expiresAt = Date.parse(timed.headers.get('expires-at') ?? '');
      expect(expiresAt).toBeGreaterThanOrEqual(before + 90_500);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 90_500);
      expect(timed.headers.get('cache-control')).toMatch(/^max-age=(89|90)$/);
      const forever = await s.fetch('/v1/cache/as-e/forever', { method, headers: admin });
      expect(forever.headers.get('expires-at')).toBeNull();
    }
  });

  it('batch get returns metadata only with meta: true; batch set honours ifNoneMatch / ifMatch like PUT', async () => {
    const [created] = await batch([{ op: 'set', ns: 'as-b', key: 'k', value: 'one', ttl: '1h', tags: ['t1'], contentType: 'text/plain' }]);
    expect(created).toMatchObject({ status: 201 });
    const [plain, meta] = await batch([
      { op: 'get', ns: 'as-b', key: 'k' },
      { op: 'get', ns: 'as-b', key: 'k', meta: true },
    ]);
    expect(plain).toEqual({ status: 200, value: 'one' });
    expect(meta).toMatchObject({ status: 200, value: 'one', etag: created?.etag, contentType: 'text/plain', tags: ['t1'] });
    expect(Date.parse(meta?.expiresAt ?? '')).toBeGreaterThan(Date.now() + 3_500_000);
    const results = await batch([
      { op: 'set', ns: 'as-b', key: 'k', value: 'blocked', ifNoneMatch: '*' },
      { op: 'set', ns: 'as-b', key: 'new', value: 'v', ifMatch: '*' },
      { op: 'set', ns: 'as-b', key: 'k', value: 'stale', ifMatch: '"not-the-etag"' },
      { op: 'set', ns: 'as-b', key: 'k', value: 'two', ifMatch: created?.etag },
      { op: 'set', ns: 'as-b', key: 'fresh', value: 'v', ifNoneMatch: '*' },
      { op: 'set', ns: 'as-b', key: 'x', value: 'v', ifNoneMatch: 'W/"x"' },
      { op: 'get', ns: 'as-b', key: 'x', meta: 'yes' },
    ]);
    expect(results.map((r) => r.status)).toEqual([412, 412, 412, 204, 201, 400, 400]);
    expect(await (await s.fetch('/v1/cache/as-b/k', { headers: admin })).text()).toBe('two');
    expect((await s.fetch('/v1/cache/as-b/new', { headers: admin })).status).toBe(404);
  });

  it('batch keys follow the library rules: empty, "." and ".." segments are valid there (never another key)', async () => {
    const keys = ['.', '..', 'a//b', '/lead', 'trail/', 'x/./y'];
    const sets = await batch(keys.map((key, i) => ({ op: 'set', ns: 'as-dots', key, value: `v${i}` })));
    expect(sets.map((r) => r.status)).toEqual(keys.map(() => 201));
    const gets = await batch(keys.map((key) => ({ op: 'get', ns: 'as-dots', key })));
    expect(gets.map((r) => r.value)).toEqual(keys.map((_, i) => `v${i}`));
    expect((await batch([{ op: 'incr', ns: 'as-dots', key: '../n' }]))[0]).toEqual({ status: 200, value: 1 });
    const listed = (await (await s.fetch('/v1/namespaces/as-dots', { headers: admin })).json()) as { stats: { entries: number } };
    expect(listed.stats.entries).toBe(keys.length + 1);
    // Empty keys and NUL stay invalid everywhere.
    expect(
      (
        await batch([
          { op: 'get', ns: 'as-dots', key: '' },
          { op: 'get', ns: 'as-dots', key: 'a\u0000' },
        ])
      ).map((r) => r.status),
    ).toEqual([400, 400]);
  });

  it('GET /v1/namespaces?name=&prefix= narrows the list, within what a confined token may see', async () => {
    for (const ns of ['as-app-1', 'as-app-2', 'as-exact', 'as-other']) {
      await s.fetch(`/v1/cache/${ns}/k`, { method: 'PUT', body: 'v', headers: admin });
    }
    const names = async (query: string, headers: Record<string, string>) =>
      ((await (await s.fetch(`/v1/namespaces?${query}`, { headers })).json()) as { namespaces: { name: string }[] }).namespaces.map(
        (n) => n.name,
      );
    expect(await names('prefix=as-app-&name=as-other', admin)).toEqual(['as-app-1', 'as-app-2', 'as-other']);
    expect(await names('prefix=as-app-&name=as-other', confined)).toEqual(['as-app-1', 'as-app-2']);
    expect(await names('prefix=as-&limit=1000', confined)).toEqual(['as-app-1', 'as-app-2', 'as-exact']);
    expect(await names('name=as-exact&name=as-app-2', confined)).toEqual(['as-app-2', 'as-exact']);
    const paged = (await (await s.fetch('/v1/namespaces?prefix=as-app-&limit=1', { headers: admin })).json()) as {
      namespaces: { name: string }[];
      cursor: string | null;
    };
    expect(paged.namespaces.map((n) => n.name)).toEqual(['as-app-1']);
    expect(paged.cursor).toBe('as-app-1');
  });

  it('POST /v1/sessions answers createdAt; GET /v1/sessions/{id}/subject reads the subject without sliding', async () => {
    const res = await s.fetch('/v1/sessions', jsonInit('POST', { subject: 'as-app-1:ada', ttl: '1m', maxAge: '1h' }, admin));
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; createdAt: string; expiresAt: string };
    expect(Date.parse(created.expiresAt) - Date.parse(created.createdAt)).toBe(60_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const subject = await s.fetch(`/v1/sessions/${created.id}/subject`, { headers: admin });
    expect(subject.status).toBe(200);
    expect(await subject.json()).toEqual({ subject: 'as-app-1:ada' });
    // Not slid: a GET (which slides) afterwards moves the expiry past the created one.
    const read = (await (await s.fetch(`/v1/sessions/${created.id}`, { headers: admin })).json()) as { expiresAt: string };
    expect(Date.parse(read.expiresAt)).toBeGreaterThan(Date.parse(created.expiresAt));
    // A confined token outside the subject's scope, and an unknown id, are 404.
    const other = await s.fetch('/v1/sessions', jsonInit('POST', { subject: 'elsewhere:bob' }, admin));
    const otherId = ((await other.json()) as { id: string }).id;
    await expectProblem(await s.fetch(`/v1/sessions/${otherId}/subject`, { headers: confined }), 404);
    expect((await s.fetch(`/v1/sessions/${created.id}/subject`, { headers: confined })).status).toBe(200);
    await expectProblem(await s.fetch(`/v1/sessions/${'A'.repeat(43)}/subject`, { headers: admin }), 404);
    await expectProblem(await s.fetch(`/v1/sessions/${created.id}/subject`), 401);
  });
});
