/**
 * The HTTP adapter's connection pool: calls reuse keep-alive connections and
 * never open more than poolMax at once (counted at a TCP relay in front of
 * the real server); usage() reports the pool size and returns to 0 in flight.
 * close() fails the calls still waiting for a socket at once: none is sent
 * after it, and no socket is left open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpPort, type HttpPort } from '../../src/adapters/http/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
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

  it('close() fails the calls waiting for a socket at once: none of them is sent, no socket stays open', async () => {
    const small = createHttpPort({
      ...DEFAULT_ADAPTER_OPTIONS,
      url: backend.server.url,
      token: HTTP_TEST_TOKEN,
      poolMax: 1,
      timeoutMs: 30_000,
    });
    await small.set('pool-close', 'warm', 'v');
    const keys = ['q0', 'q1', 'q2', 'q3', 'q4'];
    // One call holds the only socket; the other four wait for it when close() comes.
    const calls = keys.map((key) => small.set('pool-close', key, 'v'));
    await small.close();
    const outcomes = await Promise.allSettled(calls);
    for (const outcome of outcomes.slice(1)) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(BackendUnavailableError);
    }
    expect((await port.getMany('pool-close', keys.slice(1))).filter((entry) => entry !== undefined)).toEqual([]);
    const agent = small.client.agent;
    expect([...Object.values(agent.sockets), ...Object.values(agent.freeSockets)].flat()).toEqual([]);
  });
});
