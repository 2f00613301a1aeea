/**
 * No command the adapter holds back runs after its caller was answered with a
 * timeout: a call waiting for the connection to become ready is dropped at its
 * deadline, not sent once the connection is up.
 */
import { createServer, Socket, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendTimeoutError } from '../../src/core/errors.js';
import { createRedisContext } from '../../src/adapters/redis/context.js';
import { REDIS_URL, uniqueName } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP proxy to Redis that holds every new connection for `delayMs` before passing bytes through. */
async function startSlowProxy(delayMs: number): Promise<{ port: number; close: () => Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.pause();
    const timer = setTimeout(() => {
      const upstream = new Socket();
      sockets.add(upstream);
      upstream.connect(Number(target.port || 6379), target.hostname, () => {
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    }, delayMs);
    client.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('redis: the deadline drops work the adapter still holds', () => {
  const prefix = uniqueName('cpdeadline');
  let raw: Redis;
  let proxy: Awaited<ReturnType<typeof startSlowProxy>>;

  beforeAll(async () => {
    raw = new Redis(REDIS_URL);
    proxy = await startSlowProxy(1500);
  });

  afterAll(async () => {
    await raw.del(`${prefix}:late`, `${prefix}:second`);
    raw.disconnect();
    await proxy.close();
  });

  it('a call that timed out waiting for the connection is never sent', async () => {
    const client = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    client.on('error', () => {});
    const ctx = createRedisContext(client, prefix, { ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 300 });
    try {
      await expect(ctx.run('set', () => client.set(`${prefix}:late`, '1'))).rejects.toBeInstanceOf(BackendTimeoutError);
      // The connection becomes ready after 1.5 s; give a late command ample time to land.
      const deadline = Date.now() + 10_000;
      while (client.status !== 'ready' && Date.now() < deadline) await sleep(50);
      expect(client.status).toBe('ready');
      await sleep(500);
      expect(await raw.exists(`${prefix}:late`)).toBe(0);
    } finally {
      client.disconnect();
    }
  }, 30_000);
});
