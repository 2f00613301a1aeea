/**
 * Issue 14, Postgres: a call answered with a timeout is never applied later,
 * deadlocks are retried (never a raw 40P01), and reads create no state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendTimeoutError, BackendUnavailableError } from '../../src/core/errors.js';
import { createPgClient } from '../../src/adapters/postgres/connection.js';
import { createPgContext } from '../../src/adapters/postgres/context.js';
import { createPostgresPort } from '../../src/adapters/postgres/index.js';
import { PG_URL } from '../support/services.js';
import { createPgTestPort, createTestSchema, dropSchema, sleep, type PgTestPort } from './helpers.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function open(options: Parameters<typeof createPgTestPort>[0] = {}): Promise<PgTestPort> {
  const opened = await createPgTestPort(options);
  cleanup = () => opened.cleanup();
  return opened;
}

describe('postgres: work still queued at its deadline is dropped', () => {
  it('a write that timed out waiting for the saturated pool never runs', async () => {
    const schema = await createTestSchema();
    // The server-side bounds are long, so only the caller's 300 ms deadline decides.
    const sql = createPgClient({ url: PG_URL, schema, max: 1, timeoutMs: 20_000 });
    cleanup = async () => {
      await sql.end();
      await dropSchema(schema);
    };
    const ctx = createPgContext(sql, { ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 300 }, 1);
    const slow = ctx.run('slow', () => sql`SELECT pg_sleep(1.5)`).catch((e: unknown) => e);
    await sleep(50);
    const queued = await ctx.run('write', () => sql`INSERT INTO namespaces (name) VALUES ('answered-503')`).catch((e: unknown) => e);
    expect(queued).toBeInstanceOf(BackendTimeoutError);
    expect(await slow).toBeInstanceOf(BackendTimeoutError);

    // Long after the slow statement finished, the timed-out write has still not happened.
    await sleep(2500);
    expect(await sql`SELECT 1 FROM namespaces WHERE name = 'answered-503'`).toHaveLength(0);
    // And the pool works again.
    expect(await ctx.run('after', () => sql`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
  }, 20_000);
});

describe('postgres: deadlocks are retried, never surfaced raw', () => {
  it('concurrent setMany and invalidateTags on overlapping keys all succeed or answer a typed error', async () => {
    const { port } = await open({ poolMax: 12 });
    const ns = 'dl';
    const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const raw: unknown[] = [];
    let ok = 0;
    let unavailable = 0;
    const deadline = Date.now() + 4000;
    const client = async (c: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        try {
          if (c % 2 === 0) {
            // Shuffled order in, so only the adapter's ordering keeps the locks ordered.
            const items = [...keys].sort(() => Math.random() - 0.5).map((key) => ({ key, value: `${c}-${i}`, tags: ['t'] }));
            await port.setMany(ns, items);
          } else {
            await port.invalidateTags(ns, ['t']);
          }
          ok++;
        } catch (error) {
          if (error instanceof BackendUnavailableError) unavailable++;
          else raw.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, c) => client(c)));
    expect(raw.map((e) => String((e as { code?: unknown }).code ?? e))).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(unavailable).toBeLessThan(ok);
  }, 30_000);
});

describe('postgres: reads create nothing', () => {
  it('gets on made-up namespaces create no namespaces rows; stats of existing namespaces keep counting', async () => {
    const opened = await open({ readTracking: { counterFlushMs: 100 } });
    const { port } = opened;
    await port.set('real', 'k', 'v');
    await port.configure('configured', { defaultTtl: 60_000 });
    for (let i = 0; i < 200; i++) await port.get(`made-up-${i}`, 'k');
    await port.getMany('made-up-many', ['a', 'b']);
    await port.get('real', 'k');
    await port.get('real', 'nope');
    await port.get('configured', 'nope');
    await sleep(400);
    await opened.close(); // flushes what is left

    const reopened = createPgTestPortOn(opened.schema);
    try {
      const names = await reopened.sql<{ name: string }[]>`SELECT name FROM namespaces ORDER BY name`;
      expect(names.map((r) => r.name)).toEqual(['configured', 'real']);
      expect(await reopened.stats('real')).toMatchObject({ hits: 1, misses: 1 });
      expect(await reopened.stats('configured')).toMatchObject({ hits: 0, misses: 1 });
      expect(await reopened.stats('made-up-1')).toMatchObject({ hits: 0, misses: 0, entries: 0 });
    } finally {
      await reopened.close();
    }
  }, 30_000);
});

function createPgTestPortOn(schema: string) {
  return createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, poolMax: 2, url: PG_URL, schema });
}
