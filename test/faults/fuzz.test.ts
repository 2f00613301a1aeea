/**
 * Bad input: fast-check sends random and hostile namespaces, keys, headers,
 * durations, JSON and byte bodies to every route of the real server (child
 * process, each backend). The server never answers 500 (or any 5xx: the
 * backend is up), never dies, and a 4xx leaves the stored state exactly as
 * it was (values and ETags of the keys the fuzzer aims at, a counter, a
 * lock, namespace configs).
 */
import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteRedisKeys } from '../support/backends.js';
import { PG_URL, REDIS_URL, uniqueName } from '../support/services.js';
import { startChildServer, type ChildServer } from '../support/fault-server.js';

/** Bounded: stops generating after this long even if numRuns is not reached. */
const FUZZ_TIME_MS = 35_000;
const RUNS = 400;

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}
interface Got {
  status: number;
  body: string;
}

function send(base: string, req: Sent): Promise<Got> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const r = httpRequest({ hostname, port, method: req.method, path: req.path, headers: req.headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`timeout: ${req.method} ${req.path.slice(0, 200)}`)));
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

// ---------------------------------------------------------------- generators

const HOSTILE = [
  "'",
  "''",
  "';--",
  "' OR '1'='1",
  "'); DROP TABLE entries; --",
  '%',
  '%%',
  '_',
  '__',
  '\\',
  '\\\\',
  '\\%',
  '\\_',
  '\u0000',
  'a\u0000b',
  '..',
  '.',
  'a/../b',
  'a//b',
  '/',
  '*',
  '?',
  '#',
  'é',
  '😀',
  '\uFFFF',
  '\uD800',
  'x'.repeat(1024),
  'x'.repeat(1025),
  'y'.repeat(10_240),
];
/** Raw (already encoded) path pieces, including invalid UTF-8 percent-encodings. */
const RAW_SEGMENTS = [
  '%C3%28',
  '%FF',
  '%FE%FF',
  '%ED%A0%80',
  '%C0%AF',
  '%00',
  '%',
  '%zz',
  '%2',
  '%2F',
  '%2e%2e',
  '%2E',
  '%25',
  '%5C',
  '%27',
];

const SENTINEL_NS = ['fz', 'fz2'];
const SENTINEL_KEYS = ['a', 'b/c', '%'];

const text = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }));
/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD; encodeURIComponent would throw). */
function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
const encoded = (s: fc.Arbitrary<string>) => s.map(percentEncode);
/** A path segment: mostly valid-looking, often hostile, sometimes raw invalid encodings. */
const segment = (pool: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pool).map(percentEncode) },
    { weight: 3, arbitrary: encoded(text) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...pool), fc.constantFrom(...RAW_SEGMENTS)).map(([a, b]) => percentEncode(a) + b) },
  );
const ns = segment(SENTINEL_NS);
const key = fc.oneof(
  segment(SENTINEL_KEYS),
  fc.array(segment(SENTINEL_KEYS), { minLength: 2, maxLength: 3 }).map((parts) => parts.join('/')),
);
const lockName = segment(['fzlock', 'fz.lock:1']);

const duration = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1',
    '30',
    '1.5s',
    '250ms',
    '1h',
    '365d',
    '366d',
    '1D',
    ' 1s',
    '',
    'none',
    '9999999999999999999999',
    '1e3',
    '0x10',
    '30s',
    '5m',
  ),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  text,
);
const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue(),
  fc.record(
    { ttl: duration, wait: duration, by: fc.oneof(fc.integer(), fc.double(), fc.bigInt().map(String), text), token: text },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      key: text,
      limit: fc.oneof(fc.integer(), fc.double(), text),
      window: duration,
      cost: fc.oneof(fc.integer(), fc.double()),
      algorithm: text,
    },
    { requiredKeys: [] },
  ),
  fc.record({ subject: text, data: fc.jsonValue(), ttl: duration, maxAge: duration }, { requiredKeys: [] }),
  fc.record(
    {
      defaultTtl: duration,
      maxEntries: fc.oneof(fc.integer(), fc.double(), text),
      maxBytes: fc.integer(),
      eviction: text,
      durable: fc.oneof(fc.boolean(), text),
    },
    { requiredKeys: [] },
  ),
  fc.record({ prefix: text, tags: fc.array(text), keys: fc.array(text) }, { requiredKeys: [] }),
  fc.record({
    ops: fc.array(
      fc.record(
        {
          op: fc.constantFrom('get', 'set', 'delete', 'incr', 'nope'),
          ns: fc.oneof(fc.constantFrom(...SENTINEL_NS), text),
          key: fc.oneof(fc.constantFrom(...SENTINEL_KEYS), text),
          value: text,
          encoding: fc.constantFrom('utf8', 'base64', 'hex'),
          ttl: duration,
          by: fc.integer(),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 5 },
    ),
  }),
);
const body = fc.oneof(
  jsonish.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.constantFrom(Buffer.from('{'), Buffer.from('{"ops":'), Buffer.from([0xc3, 0x28]), Buffer.from('\u0000'), Buffer.alloc(0)),
);
/** Printable ASCII only: Node's client refuses other header bytes before sending. */
const headerValue = fc.oneof(
  fc.constantFrom(
    '*',
    '"x"',
    'W/"x"',
    'a, b',
    'application/json',
    'text/plain',
    'application/json; charset=utf-8',
    'application/problem+json',
    '',
    'Bearer x',
    "'; --",
  ),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
);
const headers = fc.record(
  {
    'content-type': headerValue,
    'if-match': headerValue,
    'if-none-match': headerValue,
    'cache-tag': headerValue,
    'lock-token': headerValue,
  },
  { requiredKeys: [] },
);

const query = fc.option(
  fc.oneof(
    duration.map((d) => `?ttl=${percentEncode(String(d))}`),
    fc.constantFrom('?ttl=', '?ttl=%FF', '?limit=-1', '?limit=abc', '?limit=100000', '?subject=', '?subject=%00', '?a=%'),
  ),
  { nil: '' },
);

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'];
const method = fc.constantFrom(...METHODS);

/** Every route family, with random method (405s included), path parts, query, headers and body. */
const request: fc.Arbitrary<Sent> = fc
  .record({
    route: fc.oneof(
      fc.tuple(ns, key).map(([n, k]) => `/v1/cache/${n}/${k}`),
      fc.tuple(ns, key).map(([n, k]) => `/v1/counters/${n}/${k}`),
      fc.constant('/v1/batch'),
      fc.constant('/v1/namespaces'),
      ns.map((n) => `/v1/namespaces/${n}`),
      ns.map((n) => `/v1/namespaces/${n}/invalidate`),
      ns.map((n) => `/v1/namespaces/${n}/entries`),
      fc.constant('/v1/ratelimit'),
      lockName.map((l) => `/v1/locks/${l}`),
      fc.constant('/v1/sessions'),
      segment(['nosuchsession']).map((s) => `/v1/sessions/${s}`),
      fc.tuple(lockName, lockName).map(([c, m]) => `/v1/presence/${c}/${m}`),
      lockName.map((c) => `/v1/presence/${c}`),
      fc.constantFrom('/health', '/health/ready', '/openapi.json', '/metrics', '/v1', '/v1/', '/v1/cache', '/v1/cache/fz', '/v1/cache/fz/'),
    ),
    query,
    method,
    headers,
    body: fc.option(body, { nil: undefined }),
  })
  .map(({ route, query: q, method: m, headers: h, body: b }) => {
    const sent: Sent = { method: m, path: route + q, headers: { ...h } as Record<string, string> };
    if (b !== undefined && m !== 'GET' && m !== 'HEAD') {
      sent.body = b;
      sent.headers['content-length'] = String(b.length);
    }
    return sent;
  });

// ---------------------------------------------------------------- state

/** What a 4xx must not change: sentinel values with their ETags, a counter, a lock, namespace configs. */
async function snapshot(base: string): Promise<string> {
  const parts: string[] = [];
  for (const n of SENTINEL_NS) {
    for (const k of [...SENTINEL_KEYS, 'counter']) {
      const got = await fetch(`${base}/v1/cache/${n}/${encodeURIComponent(k).replace(/%2F/g, '/')}`);
      parts.push(`${n}/${k}=${got.status}:${got.headers.get('etag')}:${await got.text()}`);
    }
    const config = await fetch(`${base}/v1/namespaces/${n}`);
    parts.push(`${n}:config=${JSON.stringify(((await config.json()) as { config: unknown }).config)}`);
  }
  const lock = (await (await fetch(`${base}/v1/locks/fzlock`)).json()) as Record<string, unknown>;
  parts.push(`lock=${JSON.stringify(lock)}`);
  return parts.join('\n');
}

async function seed(base: string): Promise<void> {
  for (const n of SENTINEL_NS) {
    for (const k of SENTINEL_KEYS) {
      const res = await fetch(`${base}/v1/cache/${n}/${encodeURIComponent(k).replace(/%2F/g, '/')}?ttl=none`, {
        method: 'PUT',
        body: `seed ${n} ${k}`,
      });
      expect(res.status).toBe(201);
    }
    await fetch(`${base}/v1/counters/${n}/counter`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"by": 7, "ttl": "1d"}',
    });
  }
  expect(
    (await fetch(`${base}/v1/locks/fzlock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ttl": "1h"}' }))
      .status,
  ).toBe(201);
}

const backends = [
  { name: 'postgres', env: (scope: string) => ({ DATABASE_URL: PG_URL, CACHE_SCHEMA: scope }) },
  { name: 'redis', env: (scope: string) => ({ CACHE_BACKEND: 'redis', REDIS_URL, REDIS_PREFIX: scope }) },
];

for (const backend of backends) {
  describe(`fuzzing every route: ${backend.name}`, () => {
    const scope = uniqueName('cpfuzz').toLowerCase();
    let server: ChildServer;

    beforeAll(async () => {
      server = await startChildServer({ ...backend.env(scope), PG_POOL_MAX: '4' });
      await seed(server.url);
    }, 60_000);

    afterAll(async () => {
      await server?.stop();
      if (backend.name === 'postgres') {
        const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
        await sql.unsafe(`DROP SCHEMA IF EXISTS "${scope}" CASCADE`);
        await sql.end();
      } else {
        await deleteRedisKeys(scope);
      }
    }, 60_000);

    it('never answers 5xx, never dies, and a 4xx changes nothing', async () => {
      let fourxx = 0;
      let total = 0;
      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          const before = await snapshot(server.url);
          const got = await send(server.url, req);
          total++;
          expect(server.alive()).toBe(true);
          expect(got.status, `${req.method} ${req.path.slice(0, 300)} → ${got.body.slice(0, 300)}`).toBeLessThan(500);
          if (got.status >= 400) {
            fourxx++;
            expect(await snapshot(server.url), `${req.method} ${req.path.slice(0, 300)} answered ${got.status} but changed state`).toBe(
              before,
            );
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: FUZZ_TIME_MS, markInterruptAsFailure: false, endOnFailure: true },
      );
      // The fuzzer must actually have exercised the rejection paths.
      expect(total).toBeGreaterThan(50);
      expect(fourxx).toBeGreaterThan(total / 4);
      expect(server.output()).not.toMatch(/"level":(50|60)/);
    }, 120_000);
  });
}
