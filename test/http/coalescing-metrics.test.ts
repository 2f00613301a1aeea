/**
 * The request-coalescing metrics on /metrics of a real server:
 * cacheport_coalesced_requests_total{op} and cacheport_coalesced_statements_total{op},
 * read from the Postgres port's coalescer at scrape time. Redis has no
 * coalescer: no series. The registry is per process (this file's), so the
 * Redis server is checked first, before a Postgres port is ever registered.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { postgresFactory, redisFactory } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The value of the series `name{op="<op>"}` in `text`, or undefined when absent. */
function coalesced(text: string, name: 'requests' | 'statements', op: 'get' | 'set'): number | undefined {
  const match = new RegExp(`^cacheport_coalesced_${name}_total\\{op="${op}"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('coalescing metrics', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('Redis (no coalescer): no coalescing series', async () => {
    const s = await startTestServer(redisFactory);
    servers.push(s);
    expect((await s.fetch('/v1/cache/cm/k', { method: 'PUT', body: 'v' })).status).toBe(201);
    await Promise.all(Array.from({ length: 20 }, () => s.fetch('/v1/cache/cm/k').then((r) => r.arrayBuffer())));
    const text = await (await s.fetch('/metrics')).text();
    expect(text).toContain('# TYPE cacheport_coalesced_requests_total counter');
    expect(text).not.toMatch(/^cacheport_coalesced_(requests|statements)_total\{/m);
  });

  it('Postgres: every single-key GET and PUT counted, fewer or as many statements as requests', async () => {
    const s = await startTestServer(postgresFactory);
    servers.push(s);
    // Present at 0 from the start.
    const start = await (await s.fetch('/metrics')).text();
    expect(coalesced(start, 'requests', 'get')).toBe(0);
    expect(coalesced(start, 'statements', 'get')).toBe(0);
    expect(coalesced(start, 'requests', 'set')).toBe(0);

    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    await Promise.all(
      keys.map(async (key) => expect((await s.fetch(`/v1/cache/cm/${key}`, { method: 'PUT', body: key })).status).toBe(201)),
    );
    const gets = 200;
    const answers = await Promise.all(
      Array.from({ length: gets }, async (_, i) => {
        const r = await s.fetch(`/v1/cache/cm/${keys[i % keys.length]}`);
        return `${r.status} ${await r.text()}`;
      }),
    );
    expect(answers).toEqual(Array.from({ length: gets }, (_, i) => `200 k${i % keys.length}`));

    const text = await (await s.fetch('/metrics')).text();
    const getRequests = coalesced(text, 'requests', 'get') ?? 0;
    const getStatements = coalesced(text, 'statements', 'get') ?? 0;
    expect(getRequests).toBe(gets);
    expect(getStatements).toBeGreaterThan(0);
    expect(getStatements).toBeLessThanOrEqual(getRequests);
    const setRequests = coalesced(text, 'requests', 'set') ?? 0;
    const setStatements = coalesced(text, 'statements', 'set') ?? 0;
    expect(setRequests).toBe(keys.length);
    expect(setStatements).toBeGreaterThan(0);
    expect(setStatements).toBeLessThanOrEqual(setRequests);

    // A later scrape adds only what happened since: counts do not double.
    expect((await s.fetch(`/v1/cache/cm/${keys[0]}`)).status).toBe(200);
    const again = await (await s.fetch('/metrics')).text();
    expect(coalesced(again, 'requests', 'get')).toBe(gets + 1);
    expect(coalesced(again, 'statements', 'get')).toBe(getStatements + 1);

    // A second server over the same port (one coalescer): its calls are counted once, and kept after it stops.
    const second = await startServer(s.config, { port: s.backend.port, logger: createLogger('silent'), worker: false });
    try {
      for (let i = 0; i < 5; i++) expect((await fetch(`${second.url}/v1/cache/cm/${keys[i]}`)).status).toBe(200);
      expect(coalesced(await (await fetch(`${second.url}/metrics`)).text(), 'requests', 'get')).toBe(gets + 6);
    } finally {
      await second.close();
    }
    expect((await s.fetch(`/v1/cache/cm/${keys[0]}`)).status).toBe(200);
    expect(coalesced(await (await s.fetch('/metrics')).text(), 'requests', 'get')).toBe(gets + 7);
  });

  it('a server started again over a port whose servers all stopped: what that port counted before is not counted again', async () => {
    const s = await startTestServer(postgresFactory);
    servers.push(s);
    const scrape = async (url: string) => coalesced(await (await fetch(`${url}/metrics`)).text(), 'requests', 'get') ?? 0;
    const before = await scrape(s.url);
    // Over a port of its own, stopped before the next one starts over the same port.
    const backend = await postgresFactory.create();
    try {
      const first = await startServer(s.config, { port: backend.port, logger: createLogger('silent'), worker: false });
      for (let i = 0; i < 3; i++) expect((await fetch(`${first.url}/v1/cache/cm/gone`)).status).toBe(404);
      await first.close();
      expect(await scrape(s.url)).toBe(before + 3);
      const again = await startServer(s.config, { port: backend.port, logger: createLogger('silent'), worker: false });
      try {
        expect(await scrape(again.url)).toBe(before + 3);
        expect((await fetch(`${again.url}/v1/cache/cm/gone`)).status).toBe(404);
        expect(await scrape(again.url)).toBe(before + 4);
      } finally {
        await again.close();
      }
    } finally {
      await backend.cleanup();
    }
  });
});
