/**
 * Postgres down and back, against a throwaway cluster this file crashes
 * (pg_ctl -m immediate) and stops cleanly (-m fast): bounded 503s meanwhile,
 * then recovery of the same server process within 15 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/fault-postgres.js';
import { startChildServer, type ChildServer } from '../support/fault-server.js';
import { expectDegraded, expectRecovery, TIMEOUT_MS } from './outage-scenario.js';

describe('postgres backend down and back', () => {
  let pg: ThrowawayPostgres;
  let server: ChildServer;
  let failClosed: ChildServer;

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    const env = { DATABASE_URL: pg.url, CACHE_SCHEMA: 'cp_faults', BACKEND_TIMEOUT_MS: String(TIMEOUT_MS), PG_POOL_MAX: '4' };
    server = await startChildServer(env);
    failClosed = await startChildServer({ ...env, RATE_LIMIT_FAIL_OPEN: 'false' });
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([server?.stop(), failClosed?.stop()]);
    await pg?.destroy();
  }, 60_000);

  for (const mode of ['crash', 'clean'] as const) {
    it(`${mode} stop: 503 within the timeout while down, recovery without restart`, async () => {
      const warm = await server.fetch(`/v1/cache/faults/${mode}-warm`, { method: 'PUT', body: 'x' });
      expect(warm.status).toBe(201);
      if (mode === 'crash') await pg.crash();
      else await pg.stopClean();
      try {
        await expectDegraded(server, failClosed, mode);
      } finally {
        await pg.start();
      }
      await expectRecovery(server, mode);
      await expectRecovery(failClosed, `${mode}-fc`);
      expect(server.alive()).toBe(true);
    }, 90_000);
  }
});
