/** Counters and batch over real HTTP, against each backend. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectProblem, jsonInit, namespaceJson } from './helpers.js';

describe.each(BACKENDS)('HTTP counters and batch on $name', (factory) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(factory);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const incr = (path: string, body?: unknown) =>
    s.fetch(`/v1/counters/${path}`, body === undefined ? { method: 'POST' } : jsonInit('POST', body));
  const batch = (ops: unknown[]) => s.fetch('/v1/batch', jsonInit('POST', { ops }));

  it('increments from 0, by default 1, negative allowed; GET returns the decimal text', async () => {
    expect(await (await incr('c1/hits')).json()).toEqual({ value: 1 });
    expect(await (await incr('c1/hits', { by: 10 })).json()).toEqual({ value: 11 });
    expect(await (await incr('c1/hits', { by: -20 })).json()).toEqual({ value: -9 });
    expect(await (await s.fetch('/v1/cache/c1/hits')).text()).toBe('-9');
  });

  it('ttl applies only on creation', async () => {
    await incr('c1/ttl', { ttl: '100s' });
    await incr('c1/ttl', { ttl: '5000s' });
    const maxAge = Number(/max-age=(\d+)/.exec((await s.fetch('/v1/cache/c1/ttl')).headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeLessThanOrEqual(100);
  });

  it('values beyond ±2^53 are decimal strings; within, JSON numbers', async () => {
    await s.fetch('/v1/cache/c2/big', { method: 'PUT', body: '9007199254740991' });
    expect(await (await incr('c2/big')).json()).toEqual({ value: 9007199254740992 });
    expect(await (await incr('c2/big')).json()).toEqual({ value: '9007199254740993' });
    expect(await (await incr('c2/big', { by: '-9007199254740993' })).json()).toEqual({ value: 0 });
  });

  it('non-integer values and overflow are 409 and change nothing', async () => {
    for (const text of ['abc', '1.5', '+1', '01', ' 1']) {
      await s.fetch('/v1/cache/c3/bad', { method: 'PUT', body: text });
      await expectProblem(await incr('c3/bad'), 409);
      expect(await (await s.fetch('/v1/cache/c3/bad')).text()).toBe(text);
    }
    await s.fetch('/v1/cache/c3/max', { method: 'PUT', body: '9223372036854775807' });
    await expectProblem(await incr('c3/max'), 409);
    expect(await (await s.fetch('/v1/cache/c3/max')).text()).toBe('9223372036854775807');
  });

  it('bad counter input is 400/415 and creates nothing', async () => {
    await expectProblem(await incr('c4/k', { by: 1.5 }), 400);
    await expectProblem(await incr('c4/k', { by: 'x' }), 400);
    await expectProblem(await incr('c4/k', { ttl: '1.5s' }), 400);
    await expectProblem(await incr('c4/k', { bogus: 1 }), 400);
    await expectProblem(
      await s.fetch('/v1/counters/c4/k', { method: 'POST', body: '{"by":', headers: { 'content-type': 'application/json' } }),
      400,
    );
    await expectProblem(
      await s.fetch('/v1/counters/c4/k', { method: 'POST', body: '{"by":1}', headers: { 'content-type': 'text/plain' } }),
      415,
    );
    await expectProblem(await s.fetch('/v1/counters/BAD/k', { method: 'POST' }), 400);
    expect((await s.fetch('/v1/cache/c4/k')).status).toBe(404);
  });

  it('is atomic under concurrency', async () => {
    await Promise.all(Array.from({ length: 40 }, () => incr('c5/k')));
    expect(await (await s.fetch('/v1/cache/c5/k')).text()).toBe('40');
  });

  it('batch runs ops in order with per-op statuses; invalid ops get 400 and the rest still run', async () => {
    const res = await batch([
      { op: 'set', ns: 'b1', key: 'a', value: 'one' },
      { op: 'set', ns: 'b1', key: 'a', value: 'two', ttl: '60s' },
      { op: 'get', ns: 'b1', key: 'a' },
      { op: 'get', ns: 'b1', key: 'missing' },
      { op: 'frobnicate', ns: 'b1', key: 'a' },
      { op: 'set', ns: 'BAD', key: 'a', value: 'x' },
      { op: 'set', ns: 'b1', key: '', value: 'x' },
      { op: 'set', ns: 'b1', key: 'ttl', value: 'x', ttl: '0' },
      { op: 'incr', ns: 'b1', key: 'n', by: 5 },
      { op: 'incr', ns: 'b1', key: 'a' },
      { op: 'delete', ns: 'b1', key: 'a' },
      { op: 'delete', ns: 'b1', key: 'a' },
      { op: 'set', ns: 'b1', key: 'bin', value: '/wAB', encoding: 'base64' },
      { op: 'get', ns: 'b1', key: 'bin' },
      { op: 'set', ns: 'b1', key: 'b64text', value: 'aGk=', encoding: 'base64' },
      { op: 'get', ns: 'b1', key: 'b64text' },
      { op: 'set', ns: 'b1', key: 'x', value: 'x', encoding: 'hex' },
      { op: 'set', ns: 'b1', key: 'x', value: '***', encoding: 'base64' },
      'not an object',
    ]);
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: { status: number; value?: unknown; encoding?: string }[] };
    expect(results.map((r) => r.status)).toEqual([
      201, 204, 200, 404, 400, 400, 400, 400, 200, 409, 204, 404, 201, 200, 201, 200, 400, 400, 400,
    ]);
    expect(results[2]).toMatchObject({ value: 'two' });
    expect(results[2]?.encoding).toBeUndefined();
    expect(results[8]).toMatchObject({ value: 5 });
    expect(results[13]).toEqual({ status: 200, value: '/wAB', encoding: 'base64' });
    expect(results[15]).toEqual({ status: 200, value: 'hi' });
    expect(new Uint8Array(await (await s.fetch('/v1/cache/b1/bin')).arrayBuffer())).toEqual(new Uint8Array([255, 0, 1]));
    for (const key of ['ttl', 'x']) expect((await s.fetch(`/v1/cache/b1/${key}`)).status).toBe(404);
    expect((await s.fetch('/v1/cache/bad/a')).status).toBe(404);
  });

  it('batch limit is inclusive: 1000 ops run, 1001 is 413 and nothing runs', async () => {
    const ops = (n: number, ns: string) => Array.from({ length: n }, (_, i) => ({ op: 'set', ns, key: `k${i}`, value: String(i) }));
    const ok = await batch(ops(1000, 'b2'));
    expect(ok.status).toBe(200);
    const { results } = (await ok.json()) as { results: { status: number }[] };
    expect(results).toHaveLength(1000);
    expect(results.every((r) => r.status === 201)).toBe(true);
    await expectProblem(await batch(ops(1001, 'b3')), 413);
    expect((await namespaceJson(s.fetch('/v1/namespaces/b3'))).stats.entries).toBe(0);
  });

  it('a body that is not a batch fails whole: malformed JSON 400, no ops 400, wrong type 415', async () => {
    await expectProblem(
      await s.fetch('/v1/batch', { method: 'POST', body: '{"ops": [', headers: { 'content-type': 'application/json' } }),
      400,
    );
    await expectProblem(await s.fetch('/v1/batch', jsonInit('POST', { nope: [] })), 400);
    await expectProblem(await s.fetch('/v1/batch', jsonInit('POST', { ops: 'get' })), 400);
    await expectProblem(await s.fetch('/v1/batch', jsonInit('POST', [1, 2])), 400);
    await expectProblem(
      await s.fetch('/v1/batch', { method: 'POST', body: JSON.stringify({ ops: [] }), headers: { 'content-type': 'text/plain' } }),
      415,
    );
    await expectProblem(await s.fetch('/v1/batch', { method: 'GET' }), 405);
  });

  it("a value over the limit inside a batch is that op's 413", async () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    const res = await batch([
      { op: 'set', ns: 'b4', key: 'big', value: big },
      { op: 'set', ns: 'b4', key: 'small', value: 'ok' },
    ]);
    const { results } = (await res.json()) as { results: { status: number }[] };
    expect(results.map((r) => r.status)).toEqual([413, 201]);
  });
});
