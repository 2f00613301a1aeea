/**
 * While the backend is down, getOrSet serves what the local cache holds
 * within grace and does not throw; values past their grace, or written
 * without grace, are not served.
 * Runs against a throwaway Postgres this test stops and starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import type { CachePort } from '../../src/core/port.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { createCache } from '../../src/index.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/fault-postgres.js';

describe('cache layer while Postgres is down', () => {
  let server: ThrowawayPostgres;
  let port: CachePort;
  beforeAll(async () => {
    server = await startThrowawayPostgres();
    await runMigrations(server.url, 'cacheport');
    port = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 1000, url: server.url, schema: 'cacheport', poolMax: 2 });
  }, 120_000);
  afterAll(async () => {
    await port?.close().catch(() => {});
    await server?.destroy();
  }, 60_000);

  it('serves local values within grace and does not throw; throws for what it does not hold', async () => {
    const cache = createCache({ port, namespace: 'outage', localCache: { maxEntries: 100, ttl: '1m' }, grace: '10m' });
    expect(await cache.getOrSet('held', () => 'v', { ttl: 200 })).toBe('v');
    expect(await cache.getOrSet('short', () => 'w', { ttl: 100, grace: 100 })).toBe('w');
    expect(await cache.getOrSet('no-grace', () => 'z', { ttl: 60_000, grace: 0 })).toBe('z');
    await server.crash();
    await new Promise((resolve) => setTimeout(resolve, 400));
    let calls = 0;
    expect(await cache.getOrSet('held', () => (calls++, 'new'))).toBe('v');
    expect(await cache.get('held', { metadata: true })).toMatchObject({ value: 'v', stale: true, source: 'local' });
    await expect(cache.getOrSet('short', () => (calls++, 'x'))).rejects.toThrow(BackendUnavailableError);
    // Written without grace: never served as an outage fallback, even within its ttl (the feed is down).
    await expect(cache.getOrSet('no-grace', () => (calls++, 'x'))).rejects.toThrow(BackendUnavailableError);
    await expect(cache.getOrSet('never-held', () => (calls++, 'x'))).rejects.toThrow(BackendUnavailableError);
    expect(calls).toBe(0);
    await server.start();
    await expect
      .poll(() => cache.getOrSet('after', () => 'back').catch(() => 'still down'), { timeout: 20_000, interval: 200 })
      .toBe('back');
    await cache.close();
  }, 120_000);
});
