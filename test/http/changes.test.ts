/**
 * GET /v1/namespaces/{ns}/changes over a real server and a real streaming
 * client, on each backend: changes made through HTTP and through a second
 * port on the same backend arrive as `event: change`; a reconnect with
 * Last-Event-ID and a lost backend feed give `event: gap`; auth, 406, 400;
 * keepalive comments; a client that leaves is unsubscribed; shutdown ends
 * the stream cleanly.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/app.js';
import { REDIS_URL } from '../support/services.js';
import { killFeedConnections } from '../cache/support/feed-faults.js';
import { expectProblem, jsonInit } from './helpers.js';
import { dataOf, openSse, type SseConnection } from './sse-client.js';

const TOKENS = [
  { token: 'admin-token-0001', scopes: ['read', 'write', 'admin'], namespaces: ['*'] },
  { token: 'reader-app-0001', scopes: ['read'], namespaces: ['app*'] },
  { token: 'writer-only-001', scopes: ['write'], namespaces: ['*'] },
];
const ADMIN = { authorization: 'Bearer admin-token-0001' };
const READER = { authorization: 'Bearer reader-app-0001' };

interface ChangeData {
  op: string;
  keys?: string[];
  prefix?: string;
  tags?: string[];
}

/** Ops that remove entries (Postgres announces a bulk removal as the deletes of its rows). */
const DELETING = ['delete', 'prefix', 'tags', 'clear', 'evict'];

/** A change concerns `key` (with `tags`): names it, its prefix or a tag, or the whole namespace. */
function covers(change: ChangeData, key: string, tags: string[] = []): boolean {
  if (change.keys) return change.keys.includes(key);
  if (change.prefix !== undefined) return key.startsWith(change.prefix);
  if (change.tags) return change.tags.some((tag) => tags.includes(tag));
  return true;
}

/** Waits for the next change events of `connection` until one covers `key`; returns that one. */
function heardFrom(connection: SseConnection) {
  let seen = 0;
  return async (key: string, tags: string[] = []): Promise<ChangeData> => {
    for (;;) {
      const events = await connection.waitForEvents(seen + 1);
      const event = events[seen++];
      if (event?.event !== 'change') continue;
      const change = JSON.parse(event.data) as ChangeData;
      if (covers(change, key, tags)) return change;
    }
  };
}

/** Subscribers of a Redis shard channel (PUBSUB SHARDNUMSUB). */
async function shardSubscribers(channel: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it holds (no timing is asserted; the test timeout bounds it). */
async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never: ${what}`);
}

describe.each(BACKENDS)('namespace change stream on $name', (factory) => {
  let s: TestServer;
  const open: SseConnection[] = [];
  const stream = async (path: string, headers: Record<string, string> = ADMIN) => {
    const connection = await openSse(s.url, path, headers);
    open.push(connection);
    return connection;
  };

  beforeAll(async () => {
    s = await startTestServer(factory, { CACHE_TOKENS: JSON.stringify(TOKENS), SSE_KEEPALIVE: '100ms' });
  });
  afterAll(async () => {
    for (const connection of open) connection.close();
    await s?.stop();
  });

  it('every write through HTTP arrives as a change event that covers it, with increasing ids', async () => {
    const changes = await stream('/v1/namespaces/app-feed/changes');
    expect(changes.status).toBe(200);
    expect(changes.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(changes.headers['cache-control']).toBe('no-store');
    const heard = heardFrom(changes);

    expect((await s.fetch('/v1/cache/app-feed/user:1', { method: 'PUT', body: 'a', headers: ADMIN })).status).toBe(201);
    expect(await heard('user:1')).toEqual({ op: 'set', keys: ['user:1'] });
    expect((await s.fetch('/v1/counters/app-feed/n', { method: 'POST', headers: ADMIN })).status).toBe(200);
    expect(await heard('n')).toEqual({ op: 'set', keys: ['n'] });
    expect((await s.fetch('/v1/cache/app-feed/user:1', jsonInit('PATCH', { ttl: '1h' }, ADMIN))).status).toBe(204);
    expect(await heard('user:1')).toEqual({ op: 'expire', keys: ['user:1'] });
    expect((await s.fetch('/v1/cache/app-feed/user:1', { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    expect(await heard('user:1')).toEqual({ op: 'delete', keys: ['user:1'] });

    await s.fetch('/v1/cache/app-feed/user:2', { method: 'PUT', body: 'b', headers: ADMIN });
    await heard('user:2');
    expect(await (await s.fetch('/v1/namespaces/app-feed/invalidate', jsonInit('POST', { prefix: 'user:' }, ADMIN))).json()).toEqual({
      deleted: 1,
    });
    expect(DELETING).toContain((await heard('user:2')).op);

    await s.fetch('/v1/cache/app-feed/tagged', { method: 'PUT', body: 'c', headers: { ...ADMIN, 'cache-tag': 't1' } });
    await heard('tagged');
    expect(await (await s.fetch('/v1/namespaces/app-feed/invalidate', jsonInit('POST', { tags: ['t1'] }, ADMIN))).json()).toEqual({
      deleted: 1,
    });
    expect(DELETING).toContain((await heard('tagged', ['t1'])).op);

    await s.fetch('/v1/cache/app-feed/last', { method: 'PUT', body: 'd', headers: ADMIN });
    await heard('last');
    expect(await (await s.fetch('/v1/namespaces/app-feed/entries', { method: 'DELETE', headers: ADMIN })).json()).toEqual({ deleted: 2 });
    expect(DELETING).toContain((await heard('last')).op);

    expect(changes.events.every((e) => e.event === 'change')).toBe(true);
    const ids = changes.events.map((e) => Number(e.id));
    expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number))).toBe(true);
  });

  it('changes made by another port on the same backend arrive too', async () => {
    const changes = await stream('/v1/namespaces/app-other/changes');
    const heard = heardFrom(changes);
    // A second adapter instance on the same schema / prefix, like another process (closed by the backend's cleanup).
    const other = s.backend.sibling();
    await other.set('app-other', 'k1', 'v');
    expect(await heard('k1')).toEqual({ op: 'set', keys: ['k1'] });
    await other.delete('app-other', 'k1');
    expect(await heard('k1')).toEqual({ op: 'delete', keys: ['k1'] });
    await other.set('app-other', 'k2', 'v', { tags: ['x'] });
    await heard('k2');
    await other.invalidateTags('app-other', ['x']);
    expect(DELETING).toContain((await heard('k2', ['x'])).op);
    await other.set('app-other', 'p:1', 'v');
    await heard('p:1');
    expect(await other.deleteByPrefix('app-other', 'p:')).toBe(1);
    expect(DELETING).toContain((await heard('p:1')).op);
    await other.set('app-other', 'k3', 'v');
    await heard('k3');
    expect(await other.clear('app-other')).toBe(1);
    expect(DELETING).toContain((await heard('k3')).op);
  });

  it('a stream hears only its own namespace; two streams of one namespace both hear each change', async () => {
    const a = await stream('/v1/namespaces/app-two/changes');
    const b = await stream('/v1/namespaces/app-two/changes', READER);
    const other = await stream('/v1/namespaces/app-elsewhere/changes');
    await s.fetch('/v1/cache/app-elsewhere/x', { method: 'PUT', body: '1', headers: ADMIN });
    await s.fetch('/v1/cache/app-two/y', { method: 'PUT', body: '1', headers: ADMIN });
    for (const connection of [a, b])
      expect(dataOf<ChangeData>(await connection.waitForEvents(1), 'change')).toEqual([{ op: 'set', keys: ['y'] }]);
    expect(dataOf<ChangeData>(await other.waitForEvents(1), 'change')).toEqual([{ op: 'set', keys: ['x'] }]);
  });

  it('a reconnect with Last-Event-ID first gets a gap (the server keeps no history), then changes', async () => {
    const resumed = await stream('/v1/namespaces/app-resume/changes', { ...ADMIN, 'last-event-id': '41' });
    expect(resumed.status).toBe(200);
    await s.fetch('/v1/cache/app-resume/k', { method: 'PUT', body: '1', headers: ADMIN });
    const [first, second] = await resumed.waitForEvents(2);
    expect(first?.event).toBe('gap');
    expect(JSON.parse(first?.data ?? '')).toEqual({ live: true });
    expect(second?.event).toBe('change');
    expect(Number(second?.id)).toBeGreaterThan(Number(first?.id));
  });

  it('when the backend feed drops, the stream stays open with a gap (live: false), then a gap (live: true) and changes again', async () => {
    const changes = await stream('/v1/namespaces/app-outage/changes');
    expect(await killFeedConnections(factory.name, s.backend.scope)).toBeGreaterThan(0);
    const [down, up] = await changes.waitForEvents(2, 20_000);
    expect(down?.event).toBe('gap');
    expect(JSON.parse(down?.data ?? '')).toEqual({ live: false });
    expect(up?.event).toBe('gap');
    expect(JSON.parse(up?.data ?? '')).toEqual({ live: true });
    await s.fetch('/v1/cache/app-outage/k', { method: 'PUT', body: '1', headers: ADMIN });
    const events = await changes.waitForEvents(3);
    expect(dataOf<ChangeData>(events, 'change')).toEqual([{ op: 'set', keys: ['k'] }]);
  });

  it('an idle stream gets keepalive comments', async () => {
    const idle = await stream('/v1/namespaces/app-idle/changes');
    expect(await idle.waitForComment()).toBe('keepalive');
    expect(idle.events).toEqual([]);
  });

  it('a client that disconnects is unsubscribed at once', async () => {
    const before = s.server.streams.size;
    const leaving = await stream('/v1/namespaces/app-leave/changes');
    expect(s.server.streams.size).toBe(before + 1);
    if (factory.name === 'redis') expect(await shardSubscribers(`${s.backend.scope}:{app-leave}#changes`)).toBe(1);
    leaving.close();
    await eventually(() => s.server.streams.size === before, 'the stream to end after the client left');
    // Redis shows the unsubscribe itself: the feed leaves the namespace's shard channel once nobody listens.
    if (factory.name === 'redis')
      await eventually(async () => (await shardSubscribers(`${s.backend.scope}:{app-leave}#changes`)) === 0, 'SUNSUBSCRIBE');
    // The namespace still works for others: a new stream hears the next change.
    const next = await stream('/v1/namespaces/app-leave/changes');
    await s.fetch('/v1/cache/app-leave/k', { method: 'PUT', body: '1', headers: ADMIN });
    expect(dataOf<ChangeData>(await next.waitForEvents(1), 'change')).toEqual([{ op: 'set', keys: ['k'] }]);
  });

  it('HEAD answers the headers of the stream without opening one', async () => {
    const before = s.server.streams.size;
    const res = await s.fetch('/v1/namespaces/app-head/changes', { method: 'HEAD', headers: { ...ADMIN, accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe('');
    expect(s.server.streams.size).toBe(before);
  });

  it('auth: 401 without a token, 403 without the read scope or outside the namespace patterns', async () => {
    const none = await openSse(s.url, '/v1/namespaces/app-x/changes');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const writer = await openSse(s.url, '/v1/namespaces/app-x/changes', { authorization: 'Bearer writer-only-001' });
    expect(writer.status).toBe(403);
    expect(JSON.parse(writer.body).detail).toMatch(/read scope/);
    const outside = await openSse(s.url, '/v1/namespaces/billing/changes', READER);
    expect(outside.status).toBe(403);
    expect(outside.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(outside.body).detail).toMatch(/billing/);
  });

  it('406 for an Accept that excludes text/event-stream; an invalid namespace is 400', async () => {
    await expectProblem(await s.fetch('/v1/namespaces/app-x/changes', { headers: { ...ADMIN, accept: 'application/json' } }), 406);
    await expectProblem(
      await s.fetch('/v1/namespaces/app-x/changes', { headers: { ...ADMIN, accept: 'text/event-stream;q=0, */*;q=0' } }),
      406,
    );
    const star = await stream('/v1/namespaces/app-x/changes', { ...ADMIN, accept: '*/*' });
    expect(star.status).toBe(200);
    const bad = await expectProblem(
      await s.fetch('/v1/namespaces/Not_Valid/changes', { headers: { ...ADMIN, accept: 'text/event-stream' } }),
      400,
    );
    expect(bad['invalid-params']?.[0]?.name).toBe('ns');
  });
});

describe.each(BACKENDS)('change streams with $name unreachable', (factory) => {
  it('answers 503 problem+json within the backend timeout, and leaves no stream open', async () => {
    const port = await createUnreachablePort(factory.name);
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', WORKER: 'off', LOG_LEVEL: 'silent', BACKEND_TIMEOUT_MS: '1000' });
    const server = await startServer(config, { port, worker: false });
    try {
      const res = await fetch(`${server.url}/v1/namespaces/down/changes`, { headers: { accept: 'text/event-stream' } });
      const body = await expectProblem(res, 503);
      expect(body.type).toMatch(/backend-(unavailable|timeout)/);
      expect(server.streams.size).toBe(0);
    } finally {
      await server.close();
      await port.close().catch(() => {});
    }
  });
});

describe.each(BACKENDS)('change streams and shutdown on $name', (factory) => {
  it('closing the server ends open streams cleanly instead of waiting out the grace period', async () => {
    const s = await startTestServer(factory);
    try {
      const changes = await openSse(s.url, '/v1/namespaces/shutdown/changes');
      expect(changes.status).toBe(200);
      await s.server.close();
      expect(await changes.ended).toBe('end');
      expect(s.server.streams.size).toBe(0);
    } finally {
      await s.stop();
    }
  });
});
