/**
 * Channel subscribers and their backend connections, per backend: a killed
 * subscriber connection (Postgres: the LISTEN backend; Redis: the blocking
 * reader) is reopened and delivery resumes after the last delivered id, with
 * nothing published meanwhile lost; close() leaves no subscriber connection;
 * an unreachable backend fails publish and subscribe as unavailable.
 */
import postgres from 'postgres';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelListenerName } from '../../src/adapters/postgres/channel-listener.js';
import { channelReaderName } from '../../src/adapters/redis/channel-readers.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { killRedisClientsNamed } from '../cache/support/feed-faults.js';
import { expectThrown, expectValidationError } from '../contract/context.js';
import { recorder, uniqueChannel, untilCount } from '../contract/pubsub.js';
import { BACKENDS, type BackendName, type TestBackend } from '../support/backends.js';
import { createUnreachablePort } from '../support/contract-unreachable.js';
import { startCutProxy } from '../support/cut-proxy.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { createRedisPort } from '../../src/adapters/redis/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { PG_URL, REDIS_URL } from '../support/services.js';

/** The subscriber connections of `scope` the server sees. */
async function subscriberConnections(backend: BackendName, scope: string): Promise<number> {
  if (backend === 'postgres') {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT 1 FROM pg_stat_activity WHERE application_name = ${channelListenerName(scope)}`;
      return rows.length;
    } finally {
      await sql.end();
    }
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const list = (await redis.client('LIST')) as string;
    return list.split('\n').filter((line) => line.includes(` name=${channelReaderName(scope)} `)).length;
  } finally {
    redis.disconnect();
  }
}

async function killSubscriberConnections(backend: BackendName, scope: string): Promise<number> {
  if (backend === 'redis') return killRedisClientsNamed(REDIS_URL, channelReaderName(scope));
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${channelListenerName(scope)}`;
    return rows.length;
  } finally {
    await sql.end();
  }
}

/** What a crash of the backend does to one channel: its messages and what the backend knew of it are gone. */
async function forgetChannel(backend: BackendName, scope: string, channel: string): Promise<void> {
  if (backend === 'postgres') {
    const sql = postgres(PG_URL, { max: 1, onnotice: () => {}, connection: { search_path: scope } });
    try {
      await sql`DELETE FROM channel_messages WHERE channel = ${channel}`;
      await sql`DELETE FROM channels WHERE channel = ${channel}`;
    } finally {
      await sql.end();
    }
    return;
  }
  const redis = new Redis(REDIS_URL);
  try {
    await redis.del(`${scope}:chan:{${channel}}`, `${scope}:chan:{${channel}}:gone`);
  } finally {
    redis.disconnect();
  }
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(BACKENDS)('channel subscriber connections on $name', (factory) => {
  let backend: TestBackend;
  beforeAll(async () => {
    backend = await factory.create();
  });
  afterAll(async () => {
    await backend?.cleanup();
  });

  it('a killed subscriber connection is reopened; messages published meanwhile arrive in order, without a gap', async () => {
    const subscriber = backend.sibling();
    const publisher = backend.port;
    const channel = uniqueChannel();
    const rec = recorder();
    const sub = await subscriber.subscribe(channel, rec.onEvent);
    const before = await publisher.publish(channel, 'before');
    await untilCount(rec.events, 1);
    await until(async () => (await subscriberConnections(factory.name, backend.scope)) === 1, 'the subscriber connection');
    expect(await killSubscriberConnections(factory.name, backend.scope)).toBe(1);
    const during: string[] = [];
    for (let i = 0; i < 20; i++) during.push(await publisher.publish(channel, i));
    await untilCount(rec.events, 21);
    await until(async () => (await subscriberConnections(factory.name, backend.scope)) === 1, 'the reopened connection');
    const after = await publisher.publish(channel, 'after');
    await untilCount(rec.events, 22);
    expect(rec.events.map((e) => (e.type === 'message' ? e.id : e.type))).toEqual([before, ...during, after]);
    expect(rec.data()).toEqual(['before', ...Array.from({ length: 20 }, (_, i) => i), 'after']);
    sub.unsubscribe();
    await subscriber.close();
  }, 60_000);

  it('an outage of the subscriber longer than retention: gap after reconnecting, then live delivery again', async () => {
    const retention = { channelRetentionMs: 400 };
    const proxy = await startCutProxy(factory.name === 'postgres' ? PG_URL : REDIS_URL, factory.name === 'postgres' ? 5432 : 6379);
    const options = { ...DEFAULT_ADAPTER_OPTIONS, ...retention, timeoutMs: 1000 };
    const subscriber =
      factory.name === 'postgres'
        ? createPostgresPort({ ...options, url: proxy.url, schema: backend.scope, poolMax: 2 })
        : createRedisPort({ ...options, url: proxy.url, prefix: backend.scope });
    const publisher = backend.sibling(retention);
    try {
      const channel = uniqueChannel();
      const rec = recorder();
      await subscriber.subscribe(channel, rec.onEvent);
      const first = await publisher.publish(channel, 'first');
      await untilCount(rec.events, 1);
      proxy.cut();
      await publisher.publish(channel, 'lost-1');
      await publisher.publish(channel, 'lost-2');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      proxy.restore();
      await untilCount(rec.events, 2);
      const next = await publisher.publish(channel, 'next');
      await untilCount(rec.events, 3);
      expect(rec.events).toEqual([
        { type: 'message', id: first, data: 'first' },
        { type: 'gap', oldestId: null },
        { type: 'message', id: next, data: 'next' },
      ]);
    } finally {
      await subscriber.close();
      await proxy.close();
    }
  }, 60_000);

  it('the backend loses the channel (a crash empties UNLOGGED tables, Redis restarts empty): gap, then new messages', async () => {
    const subscriber = backend.sibling();
    const channel = uniqueChannel();
    const rec = recorder();
    await subscriber.subscribe(channel, rec.onEvent);
    const first = await backend.port.publish(channel, 'first');
    await untilCount(rec.events, 1);
    await forgetChannel(factory.name, backend.scope, channel);
    // The reconnect makes the subscriber read the channel again.
    expect(await killSubscriberConnections(factory.name, backend.scope)).toBe(1);
    await untilCount(rec.events, 2);
    const next = await backend.port.publish(channel, 'next');
    await untilCount(rec.events, 3);
    expect(rec.events).toEqual([
      { type: 'message', id: first, data: 'first' },
      { type: 'gap', oldestId: null },
      { type: 'message', id: next, data: 'next' },
    ]);
    await subscriber.close();
  }, 60_000);

  it('close() leaves no subscriber connection open', async () => {
    const subscriber = backend.sibling();
    const rec = recorder();
    await subscriber.subscribe(uniqueChannel(), rec.onEvent);
    await subscriber.subscribe(uniqueChannel(), rec.onEvent);
    await until(async () => (await subscriberConnections(factory.name, backend.scope)) > 0, 'the subscriber connection');
    await subscriber.close();
    await until(async () => (await subscriberConnections(factory.name, backend.scope)) === 0, 'no subscriber connection');
  }, 60_000);
});

describe.each(BACKENDS.map((b) => b.name))('channels with %s unreachable', (name) => {
  it('publish and subscribe fail as unavailable within the timeout; invalid input is still a ValidationError', async () => {
    const port = await createUnreachablePort(name);
    try {
      await expectThrown(() => port.publish('chan', { a: 1 }), BackendUnavailableError);
      await expectThrown(() => port.subscribe('chan', () => {}), BackendUnavailableError);
      await expectValidationError(() => port.publish('bad name', 1), /^channel$/);
      await expectValidationError(() => port.subscribe('chan', () => {}, { fromId: 'nope' }), /^fromId$/);
    } finally {
      await port.close();
    }
  }, 30_000);
});

describe.skipIf(!BACKENDS.some((b) => b.name === 'postgres'))('postgres channel reads failing while LISTEN is fine', () => {
  let backend: TestBackend;
  beforeAll(async () => {
    const factory = BACKENDS.find((b) => b.name === 'postgres');
    if (factory === undefined) throw new Error('postgres is not among TEST_BACKENDS');
    backend = await factory.create();
  });
  afterAll(async () => {
    await backend?.cleanup();
  });

  it('keeps the one LISTEN connection, retries the reads, and delivers once they work again', async () => {
    const subscriber = backend.sibling();
    const channel = uniqueChannel();
    const rec = recorder();
    const sub = await subscriber.subscribe(channel, rec.onEvent);
    const admin = postgres(PG_URL, { max: 1, onnotice: () => {} });
    const listenerPids = async (): Promise<number[]> =>
      (await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE application_name = ${channelListenerName(backend.scope)}`).map(
        (row) => row.pid,
      );
    const table = `"${backend.scope}".channel_messages`;
    try {
      const before = await listenerPids();
      expect(before).toHaveLength(1);
      // Every read of the channel now fails (as with a broken pool or pooler); the LISTEN connection is unaffected.
      await admin.unsafe(`ALTER TABLE ${table} RENAME TO channel_messages_away`);
      try {
        for (let i = 0; i < 5; i++) {
          await admin`SELECT pg_notify('cacheport_channels', ${JSON.stringify({ s: backend.scope, c: channel })})`;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(await listenerPids()).toEqual(before);
      } finally {
        await admin.unsafe(`ALTER TABLE "${backend.scope}".channel_messages_away RENAME TO channel_messages`);
      }
      const id = await backend.port.publish(channel, 'after');
      await untilCount(rec.events, 1);
      expect(rec.events).toEqual([{ type: 'message', id, data: 'after' }]);
      expect(await listenerPids()).toEqual(before);
    } finally {
      sub.unsubscribe();
      await admin.end();
      await subscriber.close();
    }
  }, 60_000);
});
