/**
 * Issue 14, Postgres: a namespace's storage switch (durable on/off) and its
 * drop racing writers. Two ports on one schema stand for two server processes,
 * so writes also come from a process whose namespace config is cached (stale).
 * Every acknowledged write must stay readable and every counter exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { BackendUnavailableError } from '../../src/core/errors.js';
import { createPostgresPort, type PostgresPort } from '../../src/adapters/postgres/index.js';
import { PG_URL } from '../support/services.js';
import { createTestSchema, dropSchema } from './helpers.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function twoProcesses(): Promise<[PostgresPort, PostgresPort]> {
  const schema = await createTestSchema();
  const make = () => createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, timeoutMs: 10_000, poolMax: 6, url: PG_URL, schema });
  const ports: [PostgresPort, PostgresPort] = [make(), make()];
  cleanup = async () => {
    await Promise.all(ports.map((p) => p.close()));
    await dropSchema(schema);
  };
  return ports;
}

const WRITERS = 16;
const COUNTERS = 4;

describe('postgres namespace storage under concurrent writes', () => {
  it('loses no acknowledged write and no increment while 16 writers run through 5 durable switches', async () => {
    const ports = await twoProcesses();
    const ns = 'switch';
    let running = true;
    const acknowledged: string[] = [];
    const increments = new Array<number>(COUNTERS).fill(0);
    const writer = async (w: number) => {
      const port = ports[w % 2] as PostgresPort;
      for (let i = 0; running; i++) {
        if (i % 3 === 2) {
          const c = (w + i) % COUNTERS;
          await port.increment(ns, `counter-${c}`, 1);
          increments[c] = (increments[c] ?? 0) + 1;
        } else if (i % 7 === 0) {
          const batch = [0, 1, 2].map((j) => ({ key: `w${w}-${i}-b${j}`, value: `v${i}` }));
          const results = await port.setMany(ns, batch);
          results.forEach((r, j) => {
            if (r.written) acknowledged.push(batch[j]?.key as string);
          });
        } else {
          const key = `w${w}-${i}`;
          const result = await port.set(ns, key, `v${i}`);
          if (result.written) acknowledged.push(key);
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    for (let s = 1; s <= 5; s++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await ports[s % 2]?.configure(ns, { durable: s % 2 === 1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    running = false;
    await Promise.all(writers);

    expect(acknowledged.length).toBeGreaterThan(100);
    // Reads may use a config cached up to configMaxAgeMs (1 s) in the process that did not switch.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    for (const port of ports) {
      const lost: string[] = [];
      for (let i = 0; i < acknowledged.length; i += 500) {
        const keys = acknowledged.slice(i, i + 500);
        const entries = await port.getMany(ns, keys);
        entries.forEach((e, j) => {
          if (e === undefined) lost.push(keys[j] as string);
        });
      }
      expect(lost, `${lost.length} of ${acknowledged.length} acknowledged writes lost`).toEqual([]);
      for (let c = 0; c < COUNTERS; c++) {
        expect((await port.get(ns, `counter-${c}`))?.value.toString(), `counter-${c}`).toBe(String(increments[c]));
      }
    }
    const stats = await ports[0].stats(ns);
    expect(stats.entries).toBe(acknowledged.length + COUNTERS);
  }, 120_000);

  it('drop racing writers leaves nothing behind: every entry left is readable and counted', async () => {
    const ports = await twoProcesses();
    const ns = 'dropped';
    await ports[0].configure(ns, { durable: true });
    await ports[1].get(ns, 'warm-the-config-cache');
    let running = true;
    const writer = async (w: number) => {
      const port = ports[w % 2] as PostgresPort;
      for (let i = 0; running; i++) await port.set(ns, `w${w}-${i}`, 'v');
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await ports[0].drop(ns);
    await new Promise((resolve) => setTimeout(resolve, 100));
    running = false;
    await Promise.all(writers);
    await new Promise((resolve) => setTimeout(resolve, 1200));

    // Rows in either table, whatever the config says: stats count both.
    const rows = await ports[0].sql<{ key: string }[]>`
      SELECT key FROM entries WHERE ns = ${ns} UNION ALL SELECT key FROM durable_entries WHERE ns = ${ns}`;
    const unreadable: string[] = [];
    for (const { key } of rows) if ((await ports[0].get(ns, key)) === undefined) unreadable.push(key);
    expect(unreadable, `${unreadable.length} of ${rows.length} rows left unreadable`).toEqual([]);
    expect((await ports[0].stats(ns)).entries).toBe(rows.length);
  }, 60_000);
});

describe('postgres: a write outrun by storage switches', () => {
  it('is a typed BackendUnavailableError (503), never the raw CP001 driver error (500)', async () => {
    const ports = await twoProcesses();
    const ns = 'churn';
    let running = true;
    let written = 0;
    const raw: string[] = [];
    const writer = async (w: number) => {
      while (running) {
        try {
          await (ports[w % 2] as PostgresPort).increment(ns, `c${w % 4}`, 1n);
          written++;
        } catch (error) {
          if (!(error instanceof BackendUnavailableError)) raw.push(String(error));
        }
      }
    };
    let durable = false;
    // Six switchers flip storage back to back, so some writes see it move on every attempt.
    const switcher = async (s: number) => {
      while (running) {
        durable = !durable;
        await (ports[s % 2] as PostgresPort).configure(ns, { durable });
      }
    };
    const work = [...Array.from({ length: 8 }, (_, w) => writer(w)), ...Array.from({ length: 6 }, (_, s) => switcher(s))];
    await new Promise((resolve) => setTimeout(resolve, 6000));
    running = false;
    await Promise.all(work);
    expect(raw.slice(0, 3), `${raw.length} untyped errors, ${written} increments done`).toEqual([]);
  }, 60_000);
});
