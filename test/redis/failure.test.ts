/**
 * Failure behaviour of the Redis adapter against throwaway redis-server
 * processes: a dead Redis fails fast with BackendUnavailableError, a stalled
 * one times out with BackendTimeoutError, and a Redis that comes back is used
 * again by the same adapter without a restart.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BackendTimeoutError, BackendUnavailableError } from '../../src/core/errors.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRedisPort, type RedisPort } from '../../src/adapters/redis/index.js';
import { closedTcpPort, startRedisServer, type RedisServerProcess } from '../support/redis-server.js';

const TIMEOUT_MS = 1000;
/** Generous: the machine is shared; the point is "bounded", not "fast". */
const SLACK_MS = 3000;

function portAt(tcpPort: number): RedisPort {
  return createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: TIMEOUT_MS, url: `redis://127.0.0.1:${tcpPort}`, prefix: 'cpfail' });
}

async function timed(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    await call();
    return { error: undefined, ms: Date.now() - started };
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
}

async function pollUntilWorks(call: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await call();
      return;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`still failing after ${timeoutMs} ms: ${String(last)}`);
}

describe('redis adapter failure handling', () => {
  const servers: RedisServerProcess[] = [];
  const ports: RedisPort[] = [];

  afterAll(async () => {
    await Promise.allSettled(ports.map((p) => p.close()));
    await Promise.allSettled(servers.map((s) => s.destroy()));
  });

  it('a closed port gives BackendUnavailableError within the timeout, on every call', async () => {
    const port = portAt(await closedTcpPort());
    ports.push(port);
    const first = await timed(() => port.get('ns', 'k'));
    expect(first.error).toBeInstanceOf(BackendUnavailableError);
    expect(first.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    const second = await timed(() => port.set('ns', 'k', 'v'));
    expect(second.error).toBeInstanceOf(BackendUnavailableError);
    expect(second.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    await expect(port.ping()).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  it('a server that stops answering gives BackendTimeoutError, then works again', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const port = portAt(server.port);
    ports.push(port);
    await port.set('ns', 'k', 'v');
    server.pause();
    try {
      const stalled = await timed(() => port.get('ns', 'k'));
      expect(stalled.error).toBeInstanceOf(BackendTimeoutError);
      expect(stalled.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    } finally {
      server.resume();
    }
    await pollUntilWorks(() => port.get('ns', 'k'), 15_000);
    expect((await port.get('ns', 'k'))?.value.toString()).toBe('v');
  });

  it('recovers when Redis comes back, without a restart of the adapter', async () => {
    const server = await startRedisServer();
    servers.push(server);
    const port = portAt(server.port);
    ports.push(port);
    await port.set('ns', 'k', 'before');
    expect(await port.increment('ns', 'n')).toBe(1n);

    await server.stop();
    const down = await timed(() => port.get('ns', 'k'));
    expect(down.error).toBeInstanceOf(BackendUnavailableError);
    expect(down.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);

    await server.start();
    // The throwaway server has no persistence: the data is gone, the adapter works.
    await pollUntilWorks(() => port.set('ns', 'k', 'after'), 15_000);
    expect((await port.get('ns', 'k'))?.value.toString()).toBe('after');
    expect(await port.increment('ns', 'n')).toBe(1n);
    expect(await port.ping()).toBeGreaterThanOrEqual(0);
  });
});
