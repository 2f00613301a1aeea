/** Entries over real HTTP, against each backend. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { rawRequest, startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit, namespaceJson, sleep } from './helpers.js';

describe.each(BACKENDS)('HTTP entries on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_MAX_VALUE_BYTES: '1024' });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const put = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    s.fetch(`/v1/cache/${path}`, { method: 'PUT', body, headers });
  const get = (path: string, headers: Record<string, string> = {}) => s.fetch(`/v1/cache/${path}`, { headers });

  it('PUT creates (201) then replaces (204), each with a new quoted ETag, even for the same bytes', async () => {
    const first = await put('e1/k', 'same');
    expect(first.status).toBe(201);
    const second = await put('e1/k', 'same');
    expect(second.status).toBe(204);
    const [a, b] = [first.headers.get('etag'), second.headers.get('etag')];
    expect(a).toMatch(/^"[^"]+"$/);
    expect(b).toMatch(/^"[^"]+"$/);
    expect(a).not.toBe(b);
    const read = await get('e1/k');
    expect(read.headers.get('etag')).toBe(b);
  });

  it('GET returns the bytes, stored Content-Type (default octet-stream), ETag and max-age rounded down', async () => {
    const bytes = new Uint8Array([0, 255, 1, 128]);
    await put('e1/bin?ttl=100s', bytes, { 'content-type': 'application/octet-stream' });
    await put('e1/text?ttl=none', 'hello', { 'content-type': 'text/plain; charset=utf-8' });
    const bin = await get('e1/bin');
    expect(bin.status).toBe(200);
    expect(new Uint8Array(await bin.arrayBuffer())).toEqual(bytes);
    const maxAge = Number(/^max-age=(\d+)$/.exec(bin.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThanOrEqual(80);
    expect(maxAge).toBeLessThanOrEqual(99);
    const text = await get('e1/text');
    expect(await text.text()).toBe('hello');
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(text.headers.get('cache-control')).toBeNull();
    const noType = await rawRequest(s.url, 'PUT', '/v1/cache/e1/notype', {}, 'x');
    expect(noType.status).toBe(201);
    expect((await get('e1/notype')).headers.get('content-type')).toBe('application/octet-stream');
  });

  it('HEAD answers like GET without a body; misses are 404 problem+json', async () => {
    await put('e1/head', 'abcdef', { 'content-type': 'text/plain' });
    const head = await s.fetch('/v1/cache/e1/head', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toMatch(/^"/);
    expect(head.headers.get('content-length')).toBe('6');
    expect(await head.text()).toBe('');
    expect((await s.fetch('/v1/cache/e1/nothing', { method: 'HEAD' })).status).toBe(404);
    await expectProblem(await get('e1/nothing'), 404);
  });

  it('If-None-Match with the current ETag (or *) is 304; a stale one is 200', async () => {
    const etag = (await put('e1/cond', 'v')).headers.get('etag') as string;
    expect((await get('e1/cond', { 'if-none-match': etag })).status).toBe(304);
    expect((await get('e1/cond', { 'if-none-match': `"other", ${etag}` })).status).toBe(304);
    expect((await get('e1/cond', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('conditional writes: If-None-Match: *, If-Match: *, If-Match: "etag"; 412 changes nothing', async () => {
    expect((await put('e2/nx', 'one', { 'if-none-match': '*' })).status).toBe(201);
    await expectProblem(await put('e2/nx', 'two', { 'if-none-match': '*' }), 412);
    expect(await (await get('e2/nx')).text()).toBe('one');

    await expectProblem(await put('e2/xx', 'one', { 'if-match': '*' }), 412);
    expect((await get('e2/xx')).status).toBe(404);

    const etag = (await get('e2/nx')).headers.get('etag') as string;
    await expectProblem(await put('e2/nx', 'three', { 'if-match': '"not-the-etag"' }), 412);
    expect(await (await get('e2/nx')).text()).toBe('one');
    const cas = await put('e2/nx', 'four', { 'if-match': etag });
    expect(cas.status).toBe(204);
    expect(await (await get('e2/nx')).text()).toBe('four');
    await expectProblem(await put('e2/nx', 'five', { 'if-match': etag }), 412);
    expect((await put('e2/nx', 'six', { 'if-match': '*' })).status).toBe(204);
  });

  it('Cache-Tag is stored, replaced by each write, and cleared by a write without it', async () => {
    await put('e3/a', '1', { 'cache-tag': 'red, blue' });
    await put('e3/b', '2', { 'cache-tag': 'blue' });
    await put('e3/c', '3', { 'cache-tag': 'red' });
    await put('e3/c', '3');
    expect((await get('e3/a')).headers.get('cache-tag')).toBe('red, blue');
    const res = await s.fetch('/v1/namespaces/e3/invalidate', jsonInit('POST', { tags: ['red'] }));
    expect(await res.json()).toEqual({ deleted: 1 });
    expect((await get('e3/a')).status).toBe(404);
    expect((await get('e3/b')).status).toBe(200);
    expect((await get('e3/c')).status).toBe(200);
  });

  it('the key is the rest of the path, percent-decoded once: %2F and / name the same key', async () => {
    await put('e4/a%2Fb/c', 'slash');
    expect(await (await get('e4/a/b/c')).text()).toBe('slash');
    expect(await (await get('e4/a%2Fb%2Fc')).text()).toBe('slash');
    await put('e4/sp%20ace%3Fq', 'encoded');
    expect(await (await get('e4/sp%20ace%3Fq')).text()).toBe('encoded');
    await put('e4/%25', 'percent');
    expect(await (await get('e4/%25')).text()).toBe('percent');
    expect(await (await get('e4/%2525')).status).toBe(404); // decoded once: "%25" is a different key
  });

  it('rejects bad keys and namespaces with 400 and writes nothing', async () => {
    const cases = [
      '/v1/cache/e5/',
      '/v1/cache/e5',
      '/v1/cache/e5/a//b',
      '/v1/cache/e5/a/',
      '/v1/cache/e5/./a',
      '/v1/cache/e5/a/..',
      '/v1/cache/e5/a/../b',
      '/v1/cache/e5/a/%2e%2e/b',
      '/v1/cache/e5/a%2F%2Fb',
      '/v1/cache/e5/a%00b',
      '/v1/cache/e5/%ff',
      `/v1/cache/e5/${'k'.repeat(1025)}`,
      `/v1/cache/e5/${encodeURIComponent('é'.repeat(512))}k`,
      '/v1/cache/E5/k',
      '/v1/cache/-e5/k',
      `/v1/cache/${'n'.repeat(64)}/k`,
    ];
    for (const path of cases) {
      const res = await rawRequest(s.url, 'PUT', path, { 'content-type': 'text/plain' }, 'x');
      expect(res.status, path).toBe(400);
      expect(res.headers['content-type'], path).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(res.body) as { 'invalid-params': { name: string }[] };
      expect(['key', 'namespace']).toContain(body['invalid-params'][0]?.name);
    }
    const stats = await namespaceJson(s.fetch('/v1/namespaces/e5'));
    expect(stats.stats.entries).toBe(0);
    const exactly = await put(`e5/${'k'.repeat(1024)}`, 'x');
    expect(exactly.status).toBe(201);
  });

  it('rejects invalid ttl values of each kind with 400 and writes nothing', async () => {
    for (const ttl of ['0', '-1', '1.5s', '', '10x', '1S', '5 s', '366d', '31536001', 'abc', '1e3']) {
      const res = await put(`e6/k?ttl=${encodeURIComponent(ttl)}`, 'x');
      const problem = await expectProblem(res, 400);
      expect(problem['invalid-params']?.[0]?.name, ttl).toBe('ttl');
    }
    expect((await get('e6/k')).status).toBe(404);
    expect((await put('e6/k?ttl=365d', 'x')).status).toBe(201);
    expect((await put('e6/k2?ttl=1500ms', 'x')).status).toBe(201);
  });

  it('value size limit is inclusive: exactly the limit is stored, one byte more is 413 and nothing changes', async () => {
    expect((await put('e7/k', new Uint8Array(1024).fill(97))).status).toBe(201);
    await expectProblem(await put('e7/k', new Uint8Array(1025).fill(98)), 413);
    expect(await (await get('e7/k')).text()).toBe('a'.repeat(1024));
    // Without Content-Length (chunked), the streamed check still stops it.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(600).fill(99));
        controller.enqueue(new Uint8Array(600).fill(99));
        controller.close();
      },
    });
    const chunked = await s.fetch('/v1/cache/e7/chunked', { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    await expectProblem(chunked, 413);
    expect((await get('e7/chunked')).status).toBe(404);
  });

  it('DELETE is 204 then 404', async () => {
    await put('e8/k', 'x');
    expect((await s.fetch('/v1/cache/e8/k', { method: 'DELETE' })).status).toBe(204);
    await expectProblem(await s.fetch('/v1/cache/e8/k', { method: 'DELETE' }), 404);
  });

  it('PATCH sets or removes the expiry; absent is 404; bad input is 400/415 and changes nothing', async () => {
    await put('e9/k?ttl=none', 'x');
    expect((await s.fetch('/v1/cache/e9/k', jsonInit('PATCH', { ttl: '30s' }))).status).toBe(204);
    const maxAge = Number(/max-age=(\d+)/.exec((await get('e9/k')).headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(20);
    expect(maxAge).toBeLessThanOrEqual(29);
    expect((await s.fetch('/v1/cache/e9/k', jsonInit('PATCH', { ttl: null }))).status).toBe(204);
    expect((await get('e9/k')).headers.get('cache-control')).toBeNull();
    await expectProblem(await s.fetch('/v1/cache/e9/absent', jsonInit('PATCH', { ttl: 30 })), 404);
    await expectProblem(await s.fetch('/v1/cache/e9/k', jsonInit('PATCH', { ttl: '0s' })), 400);
    await expectProblem(await s.fetch('/v1/cache/e9/k', jsonInit('PATCH', {})), 400);
    await expectProblem(
      await s.fetch('/v1/cache/e9/k', { method: 'PATCH', body: '{"ttl":', headers: { 'content-type': 'application/json' } }),
      400,
    );
    await expectProblem(
      await s.fetch('/v1/cache/e9/k', { method: 'PATCH', body: '{"ttl":30}', headers: { 'content-type': 'text/plain' } }),
      415,
    );
    expect((await get('e9/k')).headers.get('cache-control')).toBeNull();
  });

  it('an expired entry is absent for GET, conditions and PATCH', async () => {
    await put('e10/k?ttl=100ms', 'x');
    await sleep(400);
    expect((await get('e10/k')).status).toBe(404);
    await expectProblem(await s.fetch('/v1/cache/e10/k', jsonInit('PATCH', { ttl: 30 })), 404);
    expect((await put('e10/k', 'y', { 'if-none-match': '*' })).status).toBe(201);
  });

  it('wrong method on an entry is 405 with Allow', async () => {
    const res = await s.fetch('/v1/cache/e11/k', { method: 'POST', body: 'x' });
    await expectProblem(res, 405);
    expect(res.headers.get('allow')).toContain('PUT');
  });
});
