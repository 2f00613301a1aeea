/**
 * Pub/sub channels over a real server and a real streaming client, on each
 * backend: publish → receive in order, two subscribers, Last-Event-ID replay,
 * gaps past retention (by count and by age), keepalive comments, a slow
 * subscriber disconnected with bounded memory, a client that leaves is
 * unsubscribed, auth and scope confinement on both routes, the POST body
 * rules (415/400/413 inclusive limit), 406, and 503 with the backend down.
 */
import { adapterOptions } from '../../src/backend.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/app.js';
import type { AdapterOptions } from '../../src/core/defaults.js';
import { BACKENDS, type BackendFactory, type TestBackend } from '../support/backends.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';
import { expectProblem, jsonInit, sleep } from './helpers.js';
import { dataOf, openSse, type SseConnection, type SseMessage } from './sse-client.js';

const TOKENS = [
  { token: 'admin-token-0001', scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: 'app-a-rw-000001', scopes: ['read', 'write'], namespaces: ['app-a*'] },
  { token: 'reader-only-001', scopes: ['read'], namespaces: ['*'] },
  { token: 'writer-only-001', scopes: ['write'], namespaces: ['*'] },
];
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const ADMIN = bearer('admin-token-0001');
const APP_A = bearer('app-a-rw-000001');

interface ChannelServer {
  url: string;
  server: RunningServer;
  backend: TestBackend;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** The real server over a test backend with channel options of its own (retention). */
async function startChannelServer(factory: BackendFactory, env: Record<string, string>, adapter: Partial<AdapterOptions> = {}) {
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    WORKER: 'off',
    LOG_LEVEL: 'silent',
    CACHE_TOKENS: JSON.stringify(TOKENS),
    ...env,
  });
  // The adapter options the server's own composition derives from its config (src/backend.ts).
  const backend = await factory.create({ ...adapterOptions(config), ...adapter });
  const server = await startServer(config, { port: backend.port, worker: false }).catch(async (error: unknown) => {
    await backend.cleanup();
    throw error;
  });
  const running: ChannelServer = {
    url: server.url,
    server,
    backend,
    fetch: (path, init) => fetch(server.url + path, init),
    async stop() {
      await server.close();
      await backend.cleanup();
    },
  };
  return running;
}

async function publish(s: ChannelServer, channel: string, data: unknown, headers: Record<string, string> = ADMIN): Promise<string> {
  const res = await s.fetch(`/v1/channels/${channel}`, jsonInit('POST', { data }, headers));
  const body = (await res.json()) as { id: string };
  expect(res.status, JSON.stringify(body)).toBe(202);
  expect(typeof body.id).toBe('string');
  return body.id;
}

/** Polls `check` until it holds (no timing is asserted; the test timeout bounds it). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await sleep(25);
  }
  throw new Error(`never: ${what}`);
}

describe.each(BACKENDS)('pub/sub channels over HTTP on $name', (factory) => {
  let s: ChannelServer;
  const open: SseConnection[] = [];
  const subscribe = async (channel: string, headers: Record<string, string> = ADMIN) => {
    const connection = await openSse(s.url, `/v1/channels/${channel}`, headers);
    open.push(connection);
    return connection;
  };

  beforeAll(async () => {
    s = await startChannelServer(factory, { SSE_KEEPALIVE: '100ms' }, { channelMaxMessages: 3 });
  });
  afterAll(async () => {
    for (const connection of open) connection.close();
    await s?.stop();
  });

  it('a subscriber receives every message published after its headers, in order, with the ids POST returned', async () => {
    const sub = await subscribe('app-a:room-1');
    expect(sub.status).toBe(200);
    expect(sub.headers['content-type']).toMatch(/^text\/event-stream/);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await publish(s, 'app-a:room-1', { i, text: `m${i}`, nested: [null, true, 'é'] }));
    const events = await sub.waitForEvents(3);
    expect(events.map((e) => e.event)).toEqual(['message', 'message', 'message']);
    expect(events.map((e) => e.id)).toEqual(ids);
    expect(dataOf(events, 'message')).toEqual([0, 1, 2].map((i) => ({ i, text: `m${i}`, nested: [null, true, 'é'] })));
  });

  it('any JSON value is a message, null included; two subscribers both receive each one', async () => {
    const a = await subscribe('app-a:room-2');
    const b = await subscribe('app-a:room-2', APP_A);
    const values = [null, 0, 'text', [1, 2], { deep: { er: 1 } }];
    for (const value of values) await publish(s, 'app-a:room-2', value);
    for (const connection of [a, b]) expect(dataOf(await connection.waitForEvents(values.length), 'message')).toEqual(values);
  });

  it('a reconnect with Last-Event-ID replays what was published after that id, without a gap', async () => {
    const first = await subscribe('app-a:room-3');
    const one = await publish(s, 'app-a:room-3', 'one');
    await first.waitForEvents(1);
    first.close();
    await publish(s, 'app-a:room-3', 'two');
    await publish(s, 'app-a:room-3', 'three');
    const again = await subscribe('app-a:room-3', { ...ADMIN, 'last-event-id': one });
    const events = await again.waitForEvents(2);
    expect(events.map((e) => e.event)).toEqual(['message', 'message']);
    expect(dataOf(events, 'message')).toEqual(['two', 'three']);
    await publish(s, 'app-a:room-3', 'four');
    expect(dataOf(await again.waitForEvents(3), 'message')).toEqual(['two', 'three', 'four']);
  });

  // Postgres enforces the count bound in the worker's cleanup (off here); Redis trims at publish.
  it.runIf(factory.name === 'redis')(
    'past retention (3 messages per channel here) the reconnect first gets a gap with the oldest id held',
    async () => {
      const seen = await publish(s, 'app-a:room-4', 1);
      const ids: string[] = [];
      for (let i = 2; i <= 6; i++) ids.push(await publish(s, 'app-a:room-4', i));
      const again = await subscribe('app-a:room-4', { ...ADMIN, 'last-event-id': seen });
      const events = await again.waitForEvents(4);
      expect(events[0]?.event).toBe('gap');
      expect(events[0]?.id).toBeUndefined();
      expect(JSON.parse(events[0]?.data ?? '')).toEqual({ oldestId: ids[2] });
      expect(dataOf(events, 'message')).toEqual([4, 5, 6]);
    },
  );

  it('an idle subscription gets keepalive comments', async () => {
    const idle = await subscribe('app-a:idle');
    expect(await idle.waitForComment()).toBe('keepalive');
    expect(idle.events).toEqual([]);
  });

  it('a client that disconnects is unsubscribed at once; the channel keeps working for others', async () => {
    const before = s.server.streams.size;
    const leaving = await subscribe('app-a:leave');
    expect(s.server.streams.size).toBe(before + 1);
    leaving.close();
    await eventually(() => s.server.streams.size === before, 'the stream to end after the client left');
    const staying = await subscribe('app-a:leave');
    await publish(s, 'app-a:leave', 'still here');
    expect(dataOf(await staying.waitForEvents(1), 'message')).toEqual(['still here']);
  });

  it('auth: 401 without a token; 403 without the scope, and for another channel scope, on both routes, before the body is read', async () => {
    const anonymous = await openSse(s.url, '/v1/channels/app-a:x');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    await expectProblem(await s.fetch('/v1/channels/app-a:x', jsonInit('POST', { data: 1 })), 401);

    const writerOnly = await openSse(s.url, '/v1/channels/app-a:x', bearer('writer-only-001'));
    expect(writerOnly.status).toBe(403);
    expect(JSON.parse(writerOnly.body).detail).toMatch(/read scope/);
    const readerPost = await expectProblem(
      await s.fetch('/v1/channels/app-a:x', jsonInit('POST', { data: 1 }, bearer('reader-only-001'))),
      403,
    );
    expect(readerPost.detail).toMatch(/write scope/);

    const otherScope = await openSse(s.url, '/v1/channels/app-b:room-7', APP_A);
    expect(otherScope.status).toBe(403);
    expect(JSON.parse(otherScope.body).detail).toMatch(/app-b/);
    // 403 comes before the body is looked at: a malformed, oversized body from a forbidden token is still 403.
    await expectProblem(
      await s.fetch('/v1/channels/app-b:room-7', {
        method: 'POST',
        body: '{not json',
        headers: { ...APP_A, 'content-type': 'text/plain' },
      }),
      403,
    );
    // The scope is the part before the first colon: app-a:… is allowed, app-a itself too.
    expect((await s.fetch('/v1/channels/app-a', jsonInit('POST', { data: 1 }, APP_A))).status).toBe(202);
  });

  it('POST: 415 for another Content-Type, 400 for malformed JSON, a missing or unknown field, or an invalid channel name', async () => {
    await expectProblem(
      await s.fetch('/v1/channels/app-a:p', { method: 'POST', body: '{"data":1}', headers: { ...ADMIN, 'content-type': 'text/plain' } }),
      415,
    );
    await expectProblem(
      await s.fetch('/v1/channels/app-a:p', {
        method: 'POST',
        body: '{"data":',
        headers: { ...ADMIN, 'content-type': 'application/json' },
      }),
      400,
    );
    const unknown = await expectProblem(await s.fetch('/v1/channels/app-a:p', jsonInit('POST', { data: 1, extra: true }, ADMIN)), 400);
    expect(unknown['invalid-params']?.[0]?.name).toBe('extra');
    const missing = await expectProblem(await s.fetch('/v1/channels/app-a:p', jsonInit('POST', {}, ADMIN)), 400);
    expect(missing['invalid-params']?.[0]?.name).toBe('data');
    await expectProblem(await s.fetch('/v1/channels/app-a:p', jsonInit('POST', [1], ADMIN)), 400);
    const badName = await expectProblem(await s.fetch('/v1/channels/has%20space', jsonInit('POST', { data: 1 }, ADMIN)), 400);
    expect(badName['invalid-params']?.[0]?.name).toBe('channel');
    await expectProblem(await s.fetch(`/v1/channels/${'x'.repeat(201)}`, { headers: { ...ADMIN, accept: 'text/event-stream' } }), 400);
  });

  it('POST: the whole body may be CACHE_MAX_MESSAGE_BYTES (64 KiB) exactly; one byte more is 413 and publishes nothing', async () => {
    const sub = await subscribe('app-a:big');
    const envelope = '{"data":""}';
    const exact = `{"data":"${'x'.repeat(64 * 1024 - envelope.length)}"}`;
    expect(Buffer.byteLength(exact)).toBe(64 * 1024);
    const ok = await s.fetch('/v1/channels/app-a:big', {
      method: 'POST',
      body: exact,
      headers: { ...ADMIN, 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(202);
    const over = `{"data":"${'x'.repeat(64 * 1024 - envelope.length + 1)}"}`;
    const problem = await expectProblem(
      await s.fetch('/v1/channels/app-a:big', { method: 'POST', body: over, headers: { ...ADMIN, 'content-type': 'application/json' } }),
      413,
    );
    expect(problem.detail).toMatch(/CACHE_MAX_MESSAGE_BYTES/);
    await publish(s, 'app-a:big', 'after');
    const events = await sub.waitForEvents(2);
    expect(events.map((e) => JSON.parse(e.data).length ?? JSON.parse(e.data))).toEqual([64 * 1024 - envelope.length, 5]);
  });

  it('POST: a body within the limit is published even when its data re-serializes longer (1e20 is 21 digits)', async () => {
    const sub = await subscribe('app-a:num');
    const numbers = Array.from({ length: 12_000 }, () => '1e20').join(',');
    const body = `{"data":[${numbers}]}`;
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(64 * 1024);
    expect(JSON.stringify(JSON.parse(body).data).length).toBeGreaterThan(64 * 1024);
    const ok = await s.fetch('/v1/channels/app-a:num', { method: 'POST', body, headers: { ...ADMIN, 'content-type': 'application/json' } });
    expect(ok.status).toBe(202);
    const [event] = await sub.waitForEvents(1);
    expect((JSON.parse(event?.data ?? '[]') as number[]).length).toBe(12_000);
  });

  it('GET: 406 for an Accept without text/event-stream; a malformed Last-Event-ID is 400 naming the header', async () => {
    await expectProblem(await s.fetch('/v1/channels/app-a:n', { headers: { ...ADMIN, accept: 'application/json' } }), 406);
    const plain = await subscribe('app-a:n', { ...ADMIN, accept: '*/*' });
    expect(plain.status).toBe(200);
    const bad = await expectProblem(
      await s.fetch('/v1/channels/app-a:n', { headers: { ...ADMIN, accept: 'text/event-stream', 'last-event-id': 'not an id' } }),
      400,
    );
    expect(bad['invalid-params']?.[0]?.name).toBe('Last-Event-ID');
  });
});

describe.each(BACKENDS)('channel retention by age on $name', (factory) => {
  let s: ChannelServer;
  beforeAll(async () => {
    s = await startChannelServer(factory, {}, { channelRetentionMs: 2000 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('messages older than CHANNEL_RETENTION are gone: a late reconnect gets a gap, then what is still held', async () => {
    const seen = await publish(s, 'aged', 'seen');
    await publish(s, 'aged', 'missed');
    await sleep(2500);
    const fresh = await publish(s, 'aged', 'fresh');
    const again = await openSse(s.url, '/v1/channels/aged', { ...ADMIN, 'last-event-id': seen });
    try {
      const events = await again.waitForEvents(2);
      expect(events[0]?.event).toBe('gap');
      expect(JSON.parse(events[0]?.data ?? '')).toEqual({ oldestId: fresh });
      expect(events[1]).toEqual({ id: fresh, event: 'message', data: '"fresh"' });
    } finally {
      again.close();
    }
  });
});

describe.each(BACKENDS)('slow channel subscribers on $name', (factory) => {
  let s: ChannelServer;
  beforeAll(async () => {
    s = await startChannelServer(factory, { SSE_MAX_BUFFERED_BYTES: String(256 * 1024) });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('a subscriber that never reads is disconnected by the server; its outbox stays within the bound', async () => {
    const before = s.server.streams.size;
    const slow = await openSse(s.url, '/v1/channels/flood', ADMIN);
    slow.pause();
    expect(s.server.streams.size).toBe(before + 1);
    const payload = 'y'.repeat(60 * 1024);
    let published = 0;
    let largest = 0;
    // Socket and kernel buffers absorb the first megabytes; then the outbox fills and the bound stops it.
    while (s.server.streams.ending === 0 && s.server.streams.size > before && published < 1000) {
      await publish(s, 'flood', { n: published++, payload });
      largest = Math.max(largest, s.server.streams.bufferedBytes);
    }
    expect(published).toBeLessThan(1000);
    expect(largest).toBeLessThanOrEqual(256 * 1024);
    // Publishing goes on; nothing more is queued for it, and as its socket does not drain it is cut after the flush grace.
    for (let i = 0; i < 5; i++) await publish(s, 'flood', { n: published++, payload });
    expect(s.server.streams.bufferedBytes).toBeLessThanOrEqual(256 * 1024);
    await eventually(() => s.server.streams.size === before, 'the slow stream to end');
    // Reading again, it finds what was queued or already in the socket buffers, in order, then the end
    // (clean, or cut when its socket did not drain within the grace): never the whole flood.
    slow.resume();
    expect(['end', 'aborted']).toContain(await slow.ended);
    const received = dataOf<{ n: number }>(slow.events, 'message').map((m) => m.n);
    expect(received).toEqual(Array.from({ length: received.length }, (_, n) => n));
    expect(received.length).toBeLessThan(published);
  });

  it('a replay larger than the bound ends the stream after what fit; resuming with Last-Event-ID gets every message in order', async () => {
    const payload = 'w'.repeat(60 * 1024);
    const ids: string[] = [];
    for (let n = 0; n < 20; n++) ids.push(await publish(s, 'burst', { n, payload }));
    const { messages, connections } = await readResuming(s, 'burst', factory.name === 'redis' ? '0-0' : '0', ids.length);
    expect(messages.map((m) => m.id)).toEqual(ids);
    // 20 × 60 KiB does not fit one stream's 256 KiB: it took several connections, each making progress.
    expect(connections).toBeGreaterThan(1);
    expect(connections).toBeLessThanOrEqual(20);
  });
});

/**
 * Reads `count` messages of `channel` after `fromId` (the backend's id before every message), reconnecting with
 * Last-Event-ID whenever the server ends the stream.
 */
async function readResuming(s: ChannelServer, channel: string, fromId: string, count: number) {
  const messages: SseMessage[] = [];
  let connections = 0;
  while (messages.length < count && connections < 200) {
    const lastId = messages.at(-1)?.id;
    const connection = await openSse(s.url, `/v1/channels/${channel}`, { ...ADMIN, 'last-event-id': lastId ?? fromId });
    connections++;
    expect(connection.status).toBe(200);
    await Promise.race([connection.ended, connection.waitForEvents(count - messages.length, 30_000).catch(() => undefined)]);
    connection.close();
    for (const event of connection.events) if (event.event === 'message') messages.push(event);
  }
  return { messages, connections };
}

describe.each(BACKENDS)('channels with $name unreachable', (factory) => {
  it('subscribe and publish answer 503 problem+json within the timeout; no stream stays open', async () => {
    const port = await createUnreachablePort(factory.name);
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', WORKER: 'off', LOG_LEVEL: 'silent', BACKEND_TIMEOUT_MS: '1000' });
    const server = await startServer(config, { port, worker: false });
    try {
      await expectProblem(await fetch(`${server.url}/v1/channels/down`, { headers: { accept: 'text/event-stream' } }), 503);
      await expectProblem(await fetch(`${server.url}/v1/channels/down`, jsonInit('POST', { data: 1 })), 503);
      expect(server.streams.size).toBe(0);
    } finally {
      await server.close();
      await port.close().catch(() => {});
    }
  });
});
