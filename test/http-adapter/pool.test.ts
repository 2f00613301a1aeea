/**
 * The HTTP adapter's connection pool: calls reuse keep-alive connections and
 * never open more than poolMax at once (counted at a TCP relay in front of
 * the real server); usage() reports the pool size and returns to 0 in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpPort, type HttpPort } from '../../src/adapters/http/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { redisFactory } from '../support/backends.js';
import { HTTP_TEST_TOKEN, startHttpBackend, type HttpTestBackend } from '../support/http-backend.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';

describe('HTTP adapter connection pool', () => {
  let backend: HttpTestBackend;
  let relay: TcpRelay;
  let port: HttpPort;

  beforeAll(async () => {
    backend = await startHttpBackend(redisFactory);
    relay = await startTcpRelay(new URL(backend.server.url));
    port = createHttpPort({ ...DEFAULT_ADAPTER_OPTIONS, url: relay.url, token: HTTP_TEST_TOKEN, poolMax: 3 });
  });
  afterAll(async () => {
    await port?.close();
    await relay?.close();
    await backend?.cleanup();
  });

  it('sequential calls reuse one keep-alive connection', async () => {
    for (let i = 0; i < 30; i++) await port.set('pool', `k${i}`, 'v');
    for (let i = 0; i < 30; i++) expect((await port.get('pool', `k${i}`))?.value.toString()).toBe('v');
    expect(relay.stats.accepted).toBe(1);
  });

  it('100 parallel calls open at most poolMax connections, and all succeed', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => port.increment('pool', `n${i % 5}`, 1)));
    expect(results).toHaveLength(100);
    expect((await port.getMany('pool', ['n0', 'n1', 'n2', 'n3', 'n4'])).map((e) => Number(e?.value.toString()))).toEqual([
      20, 20, 20, 20, 20,
    ]);
    expect(relay.stats.mostOpen).toBeLessThanOrEqual(3);
    expect(relay.stats.accepted).toBeLessThanOrEqual(3);
    expect(port.usage()).toEqual({ inFlight: 0, poolSize: 3 });
  });
});
