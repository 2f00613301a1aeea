/**
 * Scale test, Postgres topology: three instances over one PostgreSQL through
 * PgBouncer in transaction pooling mode (PG_PREPARE=false), LISTEN, migrations
 * and the worker (first instance only) on the server itself
 * (DATABASE_DIRECT_URL). See docs/scale-out.md.
 */
import postgres from 'postgres';
import { bossSchemaFor } from '../../jobs/worker.js';
import { skipWithoutPgBouncer, startPgBouncer } from '../support/pgbouncer.js';
import { PG_URL, uniqueName } from '../support/services.js';
import { skipWithoutHaproxy } from './support/haproxy.js';
import { sleep } from './support/load.js';
import { INSTANCES, scaleSuite } from './suite.js';

async function dropSchemas(schemas: string[]): Promise<void> {
  const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
  try {
    for (const schema of schemas) await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

scaleSuite(
  {
    name: `${INSTANCES} instances + PgBouncer + one Postgres`,
    async start() {
      const schema = uniqueName('cpscale').toLowerCase();
      // Server connections PgBouncer keeps for the three request pools together.
      const bouncer = await startPgBouncer({ schema, poolSize: 8 });
      return {
        env: {
          DATABASE_URL: bouncer.url,
          DATABASE_DIRECT_URL: PG_URL,
          PG_PREPARE: 'false',
          CACHE_SCHEMA: schema,
          CACHE_INSTANCES: String(INSTANCES),
          PG_POOL_MAX: '4',
          BACKEND_TIMEOUT_MS: '2000',
          WORKER: 'off',
        },
        firstEnv: { WORKER: 'inline' },
        async restartPooler(downMs) {
          await bouncer.kill();
          await sleep(downMs);
          await bouncer.restart();
        },
        async stop() {
          await bouncer.stop();
          await dropSchemas([schema, bossSchemaFor(schema)]);
        },
      };
    },
  },
  { skip: skipWithoutPgBouncer || skipWithoutHaproxy },
);
