/**
 * The unchanged contract suite through a real PgBouncer in transaction pooling
 * mode (PG_PREPARE=false, change feed on the direct URL), and why the setting
 * is needed: PgBouncer 1.18 refuses the startup parameters of the default pool
 * and breaks prepared statements, as the last block shows.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import type { ChangeEvent } from '../../src/core/port.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { checkPoolerSession, PoolerSessionError } from '../../src/adapters/postgres/pooler-session.js';
import { useBackend } from '../support/backends.js';
import { pgbouncerFactory, skipWithoutPgBouncer, startPgBouncer, type PgBouncerProcess } from '../support/pgbouncer.js';
import { PG_URL, uniqueName } from '../support/services.js';
import { dropSchema } from '../postgres/helpers.js';
import { runContractSuite } from './suite.js';

describe.skipIf(skipWithoutPgBouncer)('Postgres through PgBouncer (pool_mode = transaction)', () => {
  runContractSuite(pgbouncerFactory, { label: 'postgres through PgBouncer, PG_PREPARE=false' });

  describe('change feed', () => {
    const backend = useBackend(pgbouncerFactory);

    it('delivers a write made through PgBouncer: LISTEN runs on the direct URL', async () => {
      const events: ChangeEvent[] = [];
      const subscription = await backend.port.changes('feed', (event) => events.push(event));
      try {
        await backend.port.set('feed', 'k', 'v');
        const deadline = Date.now() + 10_000;
        while (!events.some((e) => e.type === 'change') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
        expect(events).toContainEqual({ type: 'change', ns: 'feed', op: 'set', keys: ['k'] });
      } finally {
        subscription.unsubscribe();
      }
    });

    it("the feed's connection goes to the server itself, not through PgBouncer", async () => {
      const sql = postgres(PG_URL, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE application_name = ${`cacheport-feed ${backend.scope}`.slice(0, 63)} AND query ILIKE 'LISTEN%'`;
        expect(rows[0]?.n).toBe(1);
      } finally {
        await sql.end();
      }
    });
  });

  describe('PgBouncer down', () => {
    let schema: string;
    let bouncer: PgBouncerProcess;
    beforeAll(async () => {
      schema = uniqueName('cpbouncer').toLowerCase();
      await runMigrations(PG_URL, schema);
      bouncer = await startPgBouncer({ schema, timeoutMs: 1000 });
    });
    afterAll(async () => {
      await bouncer?.stop();
      if (schema) await dropSchema(schema);
    });

    it('calls fail as unavailable while it is away, recover without a restart, and the direct change feed stays up', async () => {
      const port = createPostgresPort({
        ...DEFAULT_ADAPTER_OPTIONS,
        timeoutMs: 1000,
        url: bouncer.url,
        directUrl: PG_URL,
        prepare: false,
        schema,
        poolMax: 2,
      });
      const events: ChangeEvent[] = [];
      try {
        await port.set('down', 'k', 'before');
        const subscription = await port.changes('down', (event) => events.push(event));
        await bouncer.kill();
        await expect(port.get('down', 'k')).rejects.toBeInstanceOf(BackendUnavailableError);
        await expect(port.set('down', 'k', 'lost')).rejects.toBeInstanceOf(BackendUnavailableError);
        await bouncer.restart();
        let value: string | undefined;
        const deadline = Date.now() + 10_000;
        while (value === undefined && Date.now() < deadline) {
          value = await port.get('down', 'k').then(
            (entry) => new TextDecoder().decode(entry?.value),
            () => undefined,
          );
        }
        expect(value).toBe('before');
        await port.set('down', 'k', 'after');
        const seen = Date.now() + 10_000;
        while (!events.some((e) => e.type === 'change') && Date.now() < seen) await new Promise((r) => setTimeout(r, 25));
        expect(events.filter((e) => e.type !== 'change')).toEqual([]);
        expect(events).toContainEqual({ type: 'change', ns: 'down', op: 'set', keys: ['k'] });
        subscription.unsubscribe();
      } finally {
        await port.close();
      }
    });
  });

  describe('pipelining', () => {
    let schema: string;
    let bouncer: PgBouncerProcess;
    beforeAll(async () => {
      schema = uniqueName('cpbouncer').toLowerCase();
      await runMigrations(PG_URL, schema);
      bouncer = await startPgBouncer({ schema });
    });
    afterAll(async () => {
      await bouncer?.stop();
      if (schema) await dropSchema(schema);
    });

    it('pings among parameterized calls, more than the pool holds, all complete: no connection waits forever for a lost answer', async () => {
      const port = createPostgresPort({
        ...DEFAULT_ADAPTER_OPTIONS,
        url: bouncer.url,
        directUrl: PG_URL,
        prepare: false,
        schema,
        poolMax: 2,
      });
      try {
        await port.set('pipe', 'k', 'v');
        for (let round = 0; round < 20; round++) {
          const calls = Array.from({ length: 20 }, (_, i) => (i % 4 === 0 ? port.ping(2000) : port.get('pipe', 'k')));
          const failed = (await Promise.allSettled(calls)).filter((result) => result.status === 'rejected');
          expect(failed.map((result) => String((result as PromiseRejectedResult).reason))).toEqual([]);
        }
      } finally {
        await port.close();
      }
    });
  });

  describe('without PG_PREPARE=false', () => {
    let schema: string;
    let bouncer: PgBouncerProcess;
    beforeAll(async () => {
      schema = uniqueName('cpbouncer').toLowerCase();
      await runMigrations(PG_URL, schema);
      bouncer = await startPgBouncer({ schema, poolSize: 2 });
    });
    afterAll(async () => {
      await bouncer?.stop();
      if (schema) await dropSchema(schema);
    });

    it('the default pool cannot connect: PgBouncer refuses its search_path and timeout startup parameters', async () => {
      const port = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, url: bouncer.url, directUrl: PG_URL, schema, poolMax: 2 });
      try {
        const error = await port.get('ns', 'k').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(Error);
        expect(String((error as Error).message)).toMatch(/unsupported startup parameter/);
      } finally {
        await port.close();
      }
    });

    it('prepared statements break under transaction pooling (pipelined queries never all complete), unprepared ones do not', async () => {
      /** 3 rounds of 50 concurrent parameterized queries on 4 connections, bounded at 5 s. */
      const workload = async (prepare: boolean): Promise<string> => {
        const sql = postgres(bouncer.url, { max: 4, prepare, onnotice: () => {}, connect_timeout: 5 });
        const run = async () => {
          for (let round = 0; round < 3; round++) {
            await Promise.all(Array.from({ length: 50 }, (_, i) => sql`SELECT ${i}::int AS n, ${round}::text AS r`));
          }
          return 'completed';
        };
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('stalled'), 5_000);
        });
        try {
          return await Promise.race([run().catch((error: unknown) => `failed: ${(error as Error).message}`), bound]);
        } finally {
          clearTimeout(timer);
          await sql.end({ timeout: 0 }).catch(() => undefined);
        }
      };
      expect(await workload(false)).toBe('completed');
      expect(await workload(true)).not.toBe('completed');
    });

    it('a PgBouncer whose connect_query sets another schema is refused at startup with the fix', async () => {
      const other = await startPgBouncer({ schema: 'no_such_schema_here' });
      const port = createPostgresPort({
        ...DEFAULT_ADAPTER_OPTIONS,
        url: other.url,
        directUrl: PG_URL,
        prepare: false,
        schema,
        poolMax: 1,
      });
      try {
        const error = await checkPoolerSession(port.sql, schema).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(PoolerSessionError);
        expect((error as Error).message).toContain(`SET search_path = ${schema}`);
        // The same port through a correctly configured PgBouncer passes.
        const good = createPostgresPort({
          ...DEFAULT_ADAPTER_OPTIONS,
          url: bouncer.url,
          directUrl: PG_URL,
          prepare: false,
          schema,
          poolMax: 1,
        });
        await checkPoolerSession(good.sql, schema);
        await good.close();
      } finally {
        await port.close();
        await other.stop();
      }
    });
  });
});
