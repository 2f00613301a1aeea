/**
 * A change stream whose connection goes silent without closing (a half-open
 * TCP connection: the server's host vanished) is detected by its idle
 * timeout, reported `down`, reconnected and reported `up`; the server's
 * keepalive comments keep a quiet but healthy stream open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpPort, type HttpPort } from '../../src/adapters/http/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { postgresFactory } from '../support/backends.js';
import { HTTP_TEST_TOKEN, startHttpBackend, type HttpTestBackend } from '../support/http-backend.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { keysOf, recorder } from '../cache/support/recorder.js';

describe('HTTP adapter change stream over a half-open connection', () => {
  let backend: HttpTestBackend;
  let relay: TcpRelay;
  let port: HttpPort;

  beforeAll(async () => {
    backend = await startHttpBackend(postgresFactory, {}, { SSE_KEEPALIVE: '1s' });
    relay = await startTcpRelay(new URL(backend.server.url));
    port = createHttpPort({ ...DEFAULT_ADAPTER_OPTIONS, url: relay.url, token: HTTP_TEST_TOKEN, poolMax: 2, streamIdleTimeoutMs: 3000 });
  });
  afterAll(async () => {
    await port?.close();
    await relay?.close();
    await backend?.cleanup();
  });

  it('stays up while keepalives flow, goes down when the connection falls silent, and comes back up', async () => {
    const rec = recorder();
    await port.changes('half-open', rec.onEvent);
    // Quiet for longer than the idle timeout, but the server's 1 s keepalives arrive: no down.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(rec.events.filter((e) => e.type === 'down')).toEqual([]);
    relay.freeze();
    await rec.waitFor((e) => e.type === 'down');
    await rec.waitFor((e) => e.type === 'up');
    await backend.inner.port.set('half-open', 'after', 'v');
    await rec.waitFor((e) => e.type === 'change' && keysOf(e).includes('after'));
    expect(port.feed.reconnects).toBe(1);
  });
});
