/**
 * GET /v1/namespaces/{ns}/keys, GET /v1/namespaces/{ns}/top and
 * PATCH /v1/namespaces/{ns}/entries over real HTTP, against each backend:
 * answers, paging, validation (400), scopes and confinement (401/403 before
 * the body is read), and reads that create nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit } from './helpers.js';

const TOKENS = [
  { token: 'admin-token-0001', scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: 'reader-token-001', scopes: ['read'], namespaces: ['app*'] },
  { token: 'writer-token-001', scopes: ['read', 'write'], namespaces: ['app1'] },
];
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const admin = bearer('admin-token-0001');
const reader = bearer('reader-token-001');
const writer = bearer('writer-token-001');

interface KeyPageJson {
  keys: { key: string; size: number; expiresAt: string | null }[];
  cursor: string | null;
}

describe.each(BACKENDS)('HTTP namespace keys on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const put = (ns: string, key: string, value: string, query = '', headers: Record<string, string> = {}) =>
    s.fetch(`/v1/cache/${ns}/${encodeURIComponent(key)}${query}`, { method: 'PUT', body: value, headers: { ...admin, ...headers } });

  async function page(ns: string, query: string, headers = reader): Promise<KeyPageJson> {
    const res = await s.fetch(`/v1/namespaces/${ns}/keys${query}`, { headers });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as KeyPageJson;
  }

  it('lists keys in byte order with size and ISO expiry, pages with the cursor, filters by literal prefix', async () => {
    for (const key of ['b', 'a%1', 'a_1', 'ab', '\u00ff', 'a']) expect((await put('app-list', key, `v-${key}`)).status).toBe(201);
    expect((await put('app-list', 'forever', 'xyz', '?ttl=none')).status).toBe(201);
    const all = await page('app-list', '');
    expect(all.cursor).toBeNull();
    expect(all.keys.map((k) => k.key)).toEqual(['a', 'a%1', 'a_1', 'ab', 'b', 'forever', '\u00ff']);
    expect(all.keys.find((k) => k.key === 'forever')).toEqual({ key: 'forever', size: 3, expiresAt: null });
    const a = all.keys.find((k) => k.key === 'a');
    expect(new Date(a?.expiresAt as string).toISOString()).toBe(a?.expiresAt);
    expect(Date.parse(a?.expiresAt as string)).toBeGreaterThan(Date.now() + 30 * 60 * 1000);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const p: KeyPageJson = await page('app-list', `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(p.keys.length).toBeLessThanOrEqual(2);
      seen.push(...p.keys.map((k) => k.key));
      cursor = p.cursor;
    } while (cursor !== null);
    expect(seen).toEqual(all.keys.map((k) => k.key));

    expect((await page('app-list', `?prefix=${encodeURIComponent('a%')}`)).keys.map((k) => k.key)).toEqual(['a%1']);
    expect((await page('app-list', '?prefix=a_')).keys.map((k) => k.key)).toEqual(['a_1']);
  });

  it('an unknown namespace lists nothing and is not created by listing it', async () => {
    expect(await page('app-none', '')).toEqual({ keys: [], cursor: null });
    const top = await s.fetch('/v1/namespaces/app-none/top', { headers: reader });
    expect(await top.json()).toEqual({ entries: [] });
    const list = (await (await s.fetch('/v1/namespaces?limit=1000', { headers: admin })).json()) as { namespaces: { name: string }[] };
    expect(list.namespaces.map((n) => n.name)).not.toContain('app-none');
  });

  it('top answers the most read entries with hits and the last read time', async () => {
    await put('app-top', 'hot', '1');
    await put('app-top', 'cold', '2');
    await put('app-top', 'never', '3');
    for (let i = 0; i < 3; i++) expect((await s.fetch('/v1/cache/app-top/hot', { headers: reader })).status).toBe(200);
    expect((await s.fetch('/v1/cache/app-top/cold', { headers: reader })).status).toBe(200);
    const res = await s.fetch('/v1/namespaces/app-top/top?limit=5', { headers: reader });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { entries: { key: string; hits: number; lastAccessAt: string | null }[] };
    expect(body.entries.map((e) => [e.key, e.hits])).toEqual([
      ['hot', 3],
      ['cold', 1],
    ]);
    expect(Math.abs(Date.parse(body.entries[0]?.lastAccessAt as string) - Date.now())).toBeLessThan(60_000);
  });

  it('PATCH entries sets the expiry of all, a prefix or tagged entries, and ttl null removes it', async () => {
    await put('app-exp', 'u:1', 'x', '?ttl=none');
    await put('app-exp', 'u:2', 'x', '?ttl=none', { 'cache-tag': 'red' });
    await put('app-exp', 'v:1', 'x', '?ttl=none', { 'cache-tag': 'red' });
    await put('app-exp', 'w:1', 'x', '?ttl=none');
    const patch = (body: unknown) => s.fetch('/v1/namespaces/app-exp/entries', jsonInit('PATCH', body, admin));
    const ttlOf = async (key: string) =>
      Number((await s.fetch(`/v1/cache/app-exp/${key}`, { headers: admin })).headers.get('cache-control')?.slice(8));

    let res = await patch({ ttl: '30s', prefix: 'u:' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ updated: 2 });
    expect(await ttlOf('u:1')).toBeLessThanOrEqual(30);
    expect((await s.fetch('/v1/cache/app-exp/w:1', { headers: admin })).headers.get('cache-control')).toBeNull();

    res = await patch({ ttl: '2m', tags: ['red'] });
    expect(await res.json()).toEqual({ updated: 2 });
    expect(await ttlOf('v:1')).toBeGreaterThan(60);

    res = await patch({ ttl: null });
    expect(await res.json()).toEqual({ updated: 4 });
    const p = await page('app-exp', '', admin);
    expect(p.keys.every((k) => k.expiresAt === null)).toBe(true);

    res = await patch({ ttl: 60 });
    expect(await res.json()).toEqual({ updated: 4 });
  });

  it('rejects bad input with 400 naming the field, and changes nothing', async () => {
    await put('app-bad', 'k', 'x', '?ttl=none');
    for (const query of ['?limit=0', '?limit=10001', '?limit=abc', '?cursor=!!', '?cursor=a', `?prefix=${encodeURIComponent('a\u0000')}`]) {
      await expectProblem(await s.fetch(`/v1/namespaces/app-bad/keys${query}`, { headers: reader }), 400);
    }
    // A prefix that is not valid percent-encoded UTF-8 is refused, never taken literally (`a%FF` is not the key `a%FF`).
    await put('app-bad', 'a%FFx', 'x');
    for (const query of ['?prefix=a%FF', '?prefix=%E0%A4', '?prefix=a%ED%A0%80', '?prefix=%']) {
      const problem = await expectProblem(await s.fetch(`/v1/namespaces/app-bad/keys${query}`, { headers: reader }), 400);
      expect(problem['invalid-params']?.[0]?.name, query).toBe('prefix');
    }
    expect((await page('app-bad', '?prefix=a%25FF')).keys.map((k) => k.key)).toEqual(['a%FFx']);
    expect((await page('app-bad', '?prefix=a+b')).keys).toEqual([]);
    await expectProblem(await s.fetch('/v1/namespaces/app-bad/top?limit=1001', { headers: reader }), 400);
    await expectProblem(await s.fetch('/v1/namespaces/app-bad/top?limit=0', { headers: reader }), 400);
    await expectProblem(await s.fetch('/v1/namespaces/Bad/keys', { headers: admin }), 400);
    expect((await s.fetch('/v1/namespaces/app-bad/keys?limit=10000', { headers: reader })).status).toBe(200);
    expect((await s.fetch('/v1/namespaces/app-bad/top?limit=1000', { headers: reader })).status).toBe(200);

    const cases: [unknown, string][] = [
      [{}, 'ttl'],
      [{ prefix: 'k' }, 'ttl'],
      [{ ttl: '30s', prefix: 'k', tags: ['t'] }, 'body'],
      [{ ttl: '30s', extra: 1 }, 'extra'],
      [{ ttl: '1.5s' }, 'ttl'],
      [{ ttl: 0 }, 'ttl'],
      [{ ttl: '30s', tags: [] }, 'tags'],
      [{ ttl: '30s', tags: 'red' }, 'tags'],
      [{ ttl: '30s', prefix: '' }, 'prefix'],
      [{ ttl: '30s', prefix: 5 }, 'prefix'],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(await s.fetch('/v1/namespaces/app-bad/entries', jsonInit('PATCH', body, admin)), 400);
      expect(
        problem['invalid-params']?.map((p) => p.name),
        JSON.stringify(body),
      ).toContain(field);
    }
    await expectProblem(await s.fetch('/v1/namespaces/app-bad/entries', jsonInit('PATCH', [1], admin)), 400);
    await expectProblem(
      await s.fetch('/v1/namespaces/app-bad/entries', {
        method: 'PATCH',
        body: '{"ttl":"30s"}',
        headers: { ...admin, 'content-type': 'text/plain' },
      }),
      415,
    );
    expect((await s.fetch('/v1/cache/app-bad/k', { headers: admin })).headers.get('cache-control')).toBeNull();
  });

  it('401 without a token, 403 without the scope or outside the namespaces, before the body is read', async () => {
    await put('app1', 'k', 'x', '?ttl=none');
    await expectProblem(await s.fetch('/v1/namespaces/app1/keys'), 401);
    await expectProblem(await s.fetch('/v1/namespaces/app1/top', { headers: bearer('nope-token-00001') }), 401);
    await expectProblem(await s.fetch('/v1/namespaces/app1/entries', jsonInit('PATCH', { ttl: '1s' })), 401);
    // read and write scopes cannot bulk expire; a malformed body still gets 403 (authorization comes first).
    await expectProblem(await s.fetch('/v1/namespaces/app1/entries', jsonInit('PATCH', { ttl: '1s' }, writer)), 403);
    await expectProblem(
      await s.fetch('/v1/namespaces/app1/entries', {
        method: 'PATCH',
        body: '{not json',
        headers: { ...reader, 'content-type': 'application/json' },
      }),
      403,
    );
    // Confined tokens reach only their namespaces.
    await expectProblem(await s.fetch('/v1/namespaces/other/keys', { headers: reader }), 403);
    await expectProblem(await s.fetch('/v1/namespaces/other/top', { headers: reader }), 403);
    await expectProblem(await s.fetch('/v1/namespaces/app2/keys', { headers: writer }), 403);
    expect((await s.fetch('/v1/namespaces/app1/keys', { headers: writer })).status).toBe(200);
    const wrong = await s.fetch('/v1/namespaces/app1/keys', { method: 'POST', headers: admin });
    await expectProblem(wrong, 405);
    expect(wrong.headers.get('allow')).toContain('GET');
    expect((await s.fetch('/v1/cache/app1/k', { headers: admin })).headers.get('cache-control')).toBeNull();
  });
});
