/**
 * The lean entry read (src/http/fast-entry-read.ts) under odd and hostile HTTP/1.1, over raw sockets: every
 * request is sent once in the form the lean path may take and once with a key character percent-encoded
 * (`%6B` for `k`, always answered by the Hono app), and both answers must be identical (but for date and a
 * generated x-request-id; header order is not compared). Pipelined requests, bodies on a GET and the like
 * must leave the connection in step: every request gets its own answer, in order.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresFactory } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { NARROW, READER, TOKENS, WRITER } from './helpers.js';

/** A value as large as the default CACHE_MAX_VALUE_BYTES allows. */
const BIG = 1024 * 1024;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `bytes` on one connection and reads until the server closes it (the last request says Connection: close). */
function exchange(port: number, bytes: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes, 'latin1'));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** Splits what came back into answers; a HEAD's and a 1xx/304's have no body, the others carry Content-Length. */
function parseAnswers(raw: Buffer, methods: string[]): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  let request = 0;
  while (at < raw.length) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end === -1) throw new Error(`a cut head: ${raw.subarray(at).toString('latin1')}`);
    const [statusLine, ...lines] = raw.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine as string)?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      if (name !== 'date' && name !== 'keep-alive' && !(name === 'x-request-id' && /^[0-9a-f-]{36}$/.test(line.slice(colon + 1).trim())))
        headers[name] = line.slice(colon + 1).trim();
    }
    at = end + 4;
    if (status === 100) {
      answers.push({ status, headers, body: '' });
      continue;
    }
    const bodyless = methods[request] === 'HEAD' || status === 304;
    const length = bodyless ? 0 : Number(headers['content-length'] ?? 0);
    answers.push({ status, headers, body: raw.subarray(at, at + length).toString('latin1') });
    at += length;
    request++;
  }
  return answers;
}

const maxAgeOf = (answer: Answer | undefined): number | undefined => {
  const match = /^max-age=(\d+)$/.exec(answer?.headers['cache-control'] ?? '');
  return match ? Number(match[1]) : undefined;
};

/** max-age is the whole seconds left when each answer is made: two answers may straddle a second (at most 1 apart). */
function alignMaxAge(lean: Answer[], app: Answer[]): void {
  lean.forEach((answer, i) => {
    const other = app[i];
    const [a, b] = [maxAgeOf(answer), maxAgeOf(other)];
    if (other && a !== undefined && b !== undefined && Math.abs(a - b) <= 1) other.headers['cache-control'] = `max-age=${a}`;
  });
}

describe('lean entry read under hostile HTTP', () => {
  let s: TestServer;
  let port: number;
  let host: string;

  beforeAll(async () => {
    s = await startTestServer(postgresFactory, { CACHE_TOKENS: JSON.stringify(TOKENS) });
    port = Number(new URL(s.url).port);
    host = new URL(s.url).host;
    for (const [key, value] of [
      ['k1', 'hello'],
      ['k2', 'second'],
      ['kbig', 'x'.repeat(BIG)],
    ]) {
      const res = await s.fetch(`/v1/cache/hp/${key}`, { method: 'PUT', body: value, headers: { authorization: `Bearer ${WRITER}` } });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await s?.stop();
  });

  const encoded = (path: string): string => path.replace(/\/k([^/]*)$/, '/%6B$1');

  /** One request's bytes; `lines` are header lines (Host is not added: some cases leave it out or change it). */
  const request = (method: string, path: string, lines: string[], body = '', version = 'HTTP/1.1'): string =>
    `${method} ${path} ${version}\r\n${lines.map((line) => `${line}\r\n`).join('')}\r\n${body}`;

  async function sameBothWays(method: string, path: string, lines: string[], version = 'HTTP/1.1'): Promise<Answer[]> {
    const closing = version === 'HTTP/1.1' ? [...lines, 'Connection: close'] : lines;
    const lean = parseAnswers(await exchange(port, request(method, path, closing, '', version)), [method]);
    const app = parseAnswers(await exchange(port, request(method, encoded(path), closing, '', version)), [method]);
    alignMaxAge(lean, app);
    expect(lean, `${method} ${path} ${lines.join(' | ')}`).toEqual(app);
    return lean;
  }

  it('odd and repeated headers: the same answer either way', async () => {
    const auth = `Authorization: Bearer ${READER}`;
    const cases: [string[], number][] = [
      [[`Host: ${host}`, auth], 200],
      [[`Host: ${host}`, auth, auth], 401],
      [[`Host: ${host}`, auth, 'Authorization: Bearer wrong-token-1'], 401],
      [[`Host: ${host}`, `AUTHORIZATION: bEaReR ${READER}`], 200],
      [[`Host: ${host}`, `Authorization:    Bearer    ${READER}   `], 200],
      [[`Host: ${host}`, 'Authorization: Bearer '], 401],
      [[`Host: ${host}`, 'Authorization:'], 401],
      [[`Host: ${host}`, `Authorization: Bearer ${NARROW}`], 403],
      [[`Host: ${host}`, auth, 'x-request-id: a', 'x-request-id: b'], 200],
      [[`Host: ${host}`, auth, 'x-request-id: ok-id:1'], 200],
      [[`Host: ${host}`, auth, `x-request-id: ${'a'.repeat(129)}`], 200],
      [[`Host: ${host}`, auth, 'x-request-id:'], 200],
      [[`Host: LOCALHOST:${port}`, auth], 200],
      [[`Host: [::1]:${port}`, auth], 200],
      [['Host:', auth], 200],
      [['Host: a@localhost', auth], 400],
      [[`Host: ${host}`, 'Host: other', auth], 200],
      [[`Host: ${host}`, auth, 'Content-Length: 0'], 200],
      [[`Host: ${host}`, auth, 'Expect: 100-continue'], 100],
      [[`Host: ${host}`, auth, 'If-None-Match: "a"', 'If-None-Match: "b"'], 200],
      [[`Host: ${host}`, auth, 'If-None-Match: *, "a"'], 400],
      [[`Host: ${host}`, auth, 'If-None-Match:'], 400],
    ];
    for (const [lines, status] of cases) {
      const [first] = await sameBothWays('GET', '/v1/cache/hp/k1', lines);
      expect(first?.status, lines.join(' | ')).toBe(status);
    }
  });

  it('HTTP/1.0, with and without Host: the same answer either way', async () => {
    const auth = `Authorization: Bearer ${READER}`;
    expect((await sameBothWays('GET', '/v1/cache/hp/k1', [auth], 'HTTP/1.0'))[0]?.status).toBe(200);
    expect((await sameBothWays('GET', '/v1/cache/hp/k1', [`Host: ${host}`, auth], 'HTTP/1.0'))[0]?.status).toBe(200);
    expect((await sameBothWays('HEAD', '/v1/cache/hp/kmissing', [`Host: ${host}`, auth], 'HTTP/1.0'))[0]?.status).toBe(404);
  });

  it('If-None-Match: "*" is an entity tag like any other, not the wildcard *', async () => {
    const lines = [`Host: ${host}`, `Authorization: Bearer ${READER}`];
    const [quoted] = await sameBothWays('GET', '/v1/cache/hp/k1', [...lines, 'If-None-Match: "*"']);
    expect(quoted?.status).toBe(200);
    expect(quoted?.body).toBe('hello');
    const [bare] = await sameBothWays('GET', '/v1/cache/hp/k1', [...lines, 'If-None-Match: *']);
    expect(bare?.status).toBe(304);
  });

  it('pipelined on one connection, with bodies on GETs: every request answered, in order, the connection in step', async () => {
    const auth = `Authorization: Bearer ${READER}`;
    const plain = [`Host: ${host}`, auth];
    const smuggled = 'GET /v1/cache/hp/k2 HTTP/1.1\r\nHost: x\r\n\r\n';
    const sent: [string, string, string[], string][] = [
      ['GET', '/v1/cache/hp/k1', plain, ''],
      ['GET', '/v1/cache/hp/%6B2', plain, ''],
      ['HEAD', '/v1/cache/hp/k2', plain, ''],
      // A body smuggling a request line: it must be read as a body, not as the next request.
      ['GET', '/v1/cache/hp/k1', [...plain, `Content-Length: ${smuggled.length}`], smuggled],
      ['GET', '/v1/cache/hp/k2', [...plain, 'Transfer-Encoding: chunked'], '5\r\nGET /\r\n0\r\n\r\n'],
      ['GET', '/v1/cache/hp/kmissing', plain, ''],
      ['GET', '/v1/cache/hp/k2', [...plain, 'Connection: close'], ''],
    ];
    const raw = await exchange(port, sent.map(([method, path, lines, body]) => request(method, path, lines, body)).join(''));
    const answers = parseAnswers(
      raw,
      sent.map(([method]) => method),
    );
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'hello'],
      [200, 'second'],
      [200, ''],
      [200, 'hello'],
      [200, 'second'],
      [404, expect.stringContaining('kmissing')],
      [200, 'second'],
    ]);
    expect(answers[2]?.headers['content-length']).toBe('6');
  });

  it('a client that reads part of a large value and leaves: the server goes on, the answer counted as a 200', async () => {
    const series = async () =>
      Number(
        /cacheport_http_requests_total\{method="GET",route="\/v1\/cache\/:ns\/\*",status="200"\} (\d+)/.exec(
          await (await s.fetch('/metrics')).text(),
        )?.[1] ?? 0,
      );
    const before = await series();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(`GET /v1/cache/hp/kbig HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${READER}\r\n\r\n`),
        );
        socket.once('data', () => {
          socket.destroy();
          resolve();
        });
        socket.on('error', reject);
      });
    }
    const [head] = await sameBothWays('HEAD', '/v1/cache/hp/kbig', [`Host: ${host}`, `Authorization: Bearer ${READER}`]);
    expect(head?.headers['content-length']).toBe(String(BIG));
    const [whole] = await sameBothWays('GET', '/v1/cache/hp/kbig', [`Host: ${host}`, `Authorization: Bearer ${READER}`]);
    expect(whole?.body.length).toBe(BIG);
    // The three cut short, then the two full GETs (lean and app).
    expect((await series()) - before).toBe(5);
  });
});
