/**
 * Issue 14 over HTTP (Postgres): 16 clients PUT fresh keys and increment
 * counters while `PUT /v1/namespaces/{ns}` flips `durable` 5 times. Every
 * write answered 201 must read back 200, every counter must be exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresFactory } from '../support/backends.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('HTTP durable switch under 16 writers (postgres)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(postgresFactory);
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('loses no acknowledged write and no increment', async () => {
    const ns = 'http-switch';
    let running = true;
    const created: string[] = [];
    const increments = [0, 0];
    const unexpected: string[] = [];
    const client = async (c: number) => {
      for (let i = 0; running; i++) {
        if (i % 4 === 3) {
          const counter = c % 2;
          const res = await s.fetch(`/v1/counters/${ns}/ctr-${counter}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"by":1}',
          });
          await res.text();
          if (res.status === 200) increments[counter] = (increments[counter] ?? 0) + 1;
          else unexpected.push(`incr ${res.status}`);
        } else {
          const key = `c${c}-${i}`;
          const res = await s.fetch(`/v1/cache/${ns}/${key}`, { method: 'PUT', body: `v${i}` });
          await res.text();
          if (res.status === 201) created.push(key);
          else unexpected.push(`put ${res.status}`);
        }
      }
    };
    const clients = Array.from({ length: 16 }, (_, c) => client(c));
    for (let k = 1; k <= 5; k++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const res = await s.fetch(`/v1/namespaces/${ns}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ durable: k % 2 === 1 }),
      });
      await res.text();
      expect(res.status).toBeLessThan(300);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    running = false;
    await Promise.all(clients);

    expect(unexpected).toEqual([]);
    expect(created.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const key of created) {
      const res = await s.fetch(`/v1/cache/${ns}/${key}`);
      await res.arrayBuffer();
      if (res.status !== 200) missing.push(key);
    }
    expect(missing, `${missing.length} of ${created.length} writes answered 201 are gone`).toEqual([]);
    for (const counter of [0, 1]) {
      const res = await s.fetch(`/v1/cache/${ns}/ctr-${counter}`);
      expect(await res.text()).toBe(String(increments[counter]));
    }
  }, 120_000);
});
