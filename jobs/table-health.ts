/** Table health gauges: dead tuples and the expired backlog, refreshed after each cleanup run. */
import type { Sql } from '../src/adapters/postgres/connection.js';
import { readTableHealth, type TableHealth } from '../src/adapters/postgres/maintenance.js';
import { deadTuples, expiredPending, oldestExpiredAge } from './metrics.js';

export async function refreshTableHealth(sql: Sql): Promise<TableHealth[]> {
  const health = await readTableHealth(sql);
  for (const row of health) {
    deadTuples.set({ table: row.table }, row.deadTuples);
    expiredPending.set({ table: row.table }, row.expiredPending);
    oldestExpiredAge.set({ table: row.table }, row.oldestExpiredAgeSeconds);
  }
  return health;
}
