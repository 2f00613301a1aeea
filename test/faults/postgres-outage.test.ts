/**
 * Postgres down and back, against a throwaway cluster this file crashes
 * (pg_ctl -m immediate) and stops cleanly (-m fast): bounded 503s meanwhile,
 * then recovery of the same server process within 15 s.
 */
import { startThrowawayPostgres } from '../support/fault-postgres.js';
import { describeOutage } from './outage-scenario.js';

describeOutage('postgres', async () => {
  const pg = await startThrowawayPostgres();
  return { backend: pg, env: { DATABASE_URL: pg.url, CACHE_SCHEMA: 'cp_faults', PG_POOL_MAX: '4' } };
});
