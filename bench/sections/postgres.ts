/**
 * Postgres: adapter vs baseline A for every op, then the pool-size sweep.
 * Leaves the bench schema populated for the HTTP cases; run.ts drops it.
 */
import postgres from 'postgres';
import { createPgClient } from '../../src/adapters/postgres/connection.js';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import { createRawPostgres, prepareRawPostgresTable } from '../baselines/raw-postgres.js';
import { createPostgresAdapter } from '../lib/adapters.js';
import { runClosedLoop } from '../lib/closed-loop.js';
import { measureInterleaved, type InterleaveContext, type Variant } from '../lib/interleave.js';
import { errorMessage, type CaseOutcome } from '../lib/measurement.js';
import { populateThroughPort, verifyPopulated } from '../lib/populate.js';
import { portOperation } from '../lib/port-ops.js';
import type { BenchSettings } from '../lib/settings.js';
import type { Workload } from '../lib/workload.js';
import { runPortCases, type PortRow } from './port-cases.js';

export interface SweepRow {
  poolMax: number;
  adapter: CaseOutcome;
  baseline: CaseOutcome;
}

/** Adapter with request coalescing turned off vs baseline A, measured as a pair. */
export interface CoalescingOffRow {
  op: 'get' | 'set';
  concurrency: number;
  off: CaseOutcome;
  baseline: CaseOutcome;
}

/** Adapter set into the default namespace (UNLOGGED `entries`) vs a durable one (logged `durable_entries`). */
export interface DurabilityRow {
  concurrency: number;
  unlogged: CaseOutcome;
  logged: CaseOutcome;
}

export interface PostgresResults {
  rows: PortRow[];
  coalescingOff: CoalescingOffRow[];
  durability: DurabilityRow[];
  sweep: SweepRow[];
  notes: string[];
}

/** Migrates the bench schema and fills baseline A's table. */
export async function preparePostgres(settings: BenchSettings, w: Workload): Promise<void> {
  await runMigrations(settings.pgUrl, settings.schema);
  const sql = createPgClient({
    url: settings.pgUrl,
    schema: settings.schema,
    max: 1,
    timeoutMs: 30_000,
    applicationName: 'cacheport-bench-setup',
  });
  try {
    await prepareRawPostgresTable(sql, settings.ns, w);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** When the adapter cannot write yet, put the entries in its table directly so reads still measure hits. */
async function populateEntriesTable(settings: BenchSettings, w: Workload): Promise<void> {
  const sql = createPgClient({
    url: settings.pgUrl,
    schema: settings.schema,
    max: 1,
    timeoutMs: 30_000,
    applicationName: 'cacheport-bench-setup',
  });
  try {
    const keys = Array.from({ length: w.keyCount }, (_, i) => w.key(i));
    await sql`
      INSERT INTO entries (ns, key, value, content_type, etag, size)
      SELECT ${settings.ns}, k, ${w.value}, 'application/octet-stream', md5(k), ${w.value.length}
      FROM unnest(${keys}::text[]) AS k
      ON CONFLICT (ns, key) DO NOTHING`;
    await sql`ANALYZE entries`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function runPostgresSection(settings: BenchSettings, w: Workload, ctx: InterleaveContext): Promise<PostgresResults> {
  const notes: string[] = [];
  const pgOptions = { url: settings.pgUrl, schema: settings.schema, timeoutMs: DEFAULT_ADAPTER_OPTIONS.timeoutMs };
  const adapter = await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax: settings.poolMax });
  const raw = createRawPostgres({ ...pgOptions, poolMax: settings.poolMax }, settings.ns, w, settings.batchSize);

  let rows: PortRow[];
  try {
    let populateNa: string | undefined;
    if (adapter.ok) {
      const failed = await populateThroughPort(adapter.value, settings.ns, w);
      if (failed !== undefined) {
        notes.push(`Postgres: ${failed}; entries were inserted into the table directly.`);
        await populateEntriesTable(settings, w);
      }
      populateNa = await verifyPopulated(adapter.value, settings.ns, w);
      if (populateNa !== undefined) notes.push(`Postgres: ${populateNa}; read cases are n/a.`);
    } else {
      notes.push(`Postgres adapter: ${adapter.reason}`);
    }
    rows = await runPortCases({
      backend: 'postgres',
      port: adapter.ok ? adapter.value : undefined,
      ...(adapter.ok ? {} : { adapterNa: adapter.reason }),
      ...(populateNa === undefined ? {} : { populateNa }),
      baseline: raw.ops,
      settings,
      workload: w,
      ctx,
    });
  } finally {
    await raw.close();
    if (adapter.ok) await adapter.value.close();
  }

  const coalescingOff = await runCoalescingOff(settings, w, ctx);
  const durability = await runDurability(settings, w, ctx, notes);
  const sweep = await runPoolSweep(settings, w, ctx);
  return { rows, coalescingOff, durability, sweep, notes };
}

/**
 * The adapter coalesces concurrent single-key gets and sets by default; with
 * it off, the ratio to baseline A is the adapter's per-call overhead alone.
 */
async function runCoalescingOff(settings: BenchSettings, w: Workload, ctx: InterleaveContext): Promise<CoalescingOffRow[]> {
  const adapter = await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax: settings.poolMax, coalesce: false });
  const raw = createRawPostgres(
    { url: settings.pgUrl, schema: settings.schema, timeoutMs: DEFAULT_ADAPTER_OPTIONS.timeoutMs, poolMax: settings.poolMax },
    settings.ns,
    w,
    settings.batchSize,
  );
  const rows: CoalescingOffRow[] = [];
  const missing: CaseOutcome = { status: 'n/a', reason: 'missing' };
  try {
    for (const op of ['get', 'set'] as const) {
      for (const concurrency of settings.concurrencies) {
        ctx.log(`[postgres] ${op} c=${concurrency}, coalescing off`);
        const loop = { concurrency, warmupMs: settings.warmupMs, durationMs: settings.durationMs };
        const base = raw.ops[op];
        const variants: Variant[] = [
          base === undefined ? { id: 'baseline', naReason: 'no baseline' } : { id: 'baseline', run: () => runClosedLoop(base.op, loop) },
          adapter.ok
            ? { id: 'off', run: () => runClosedLoop(portOperation(adapter.value, op, settings.ns, w, settings.batchSize), loop) }
            : { id: 'off', naReason: adapter.reason },
        ];
        const outcomes = await measureInterleaved(variants, ctx);
        rows.push({ op, concurrency, off: outcomes.get('off') ?? missing, baseline: outcomes.get('baseline') ?? missing });
      }
    }
  } finally {
    await raw.close();
    if (adapter.ok) await adapter.value.close();
  }
  return rows;
}

/**
 * What crash safety costs a write: the same adapter's set into the default
 * namespace (UNLOGGED, no WAL) and into a `durable: true` namespace (logged),
 * both pre-populated so every set is an update of an existing row.
 */
async function runDurability(settings: BenchSettings, w: Workload, ctx: InterleaveContext, notes: string[]): Promise<DurabilityRow[]> {
  const adapter = await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax: settings.poolMax });
  const durableNs = `${settings.ns}.durable`;
  let loggedNa: string | undefined = adapter.ok ? undefined : adapter.reason;
  if (adapter.ok) {
    try {
      await adapter.value.configure(durableNs, { durable: true });
      loggedNa = await populateThroughPort(adapter.value, durableNs, w);
    } catch (error) {
      loggedNa = `configuring ${durableNs} durable failed: ${errorMessage(error)}`;
    }
    if (loggedNa !== undefined) notes.push(`Postgres durable namespace: ${loggedNa}.`);
  }
  const rows: DurabilityRow[] = [];
  const missing: CaseOutcome = { status: 'n/a', reason: 'missing' };
  try {
    for (const concurrency of settings.concurrencies) {
      ctx.log(`[postgres] set c=${concurrency}, UNLOGGED vs logged (durable namespace)`);
      const loop = { concurrency, warmupMs: settings.warmupMs, durationMs: settings.durationMs };
      const variant = (id: string, ns: string, na: string | undefined): Variant =>
        adapter.ok && na === undefined
          ? { id, run: () => runClosedLoop(portOperation(adapter.value, 'set', ns, w, settings.batchSize), loop) }
          : { id, naReason: na ?? 'adapter not available' };
      const variants = [
        variant(`unlogged c=${concurrency}`, settings.ns, adapter.ok ? undefined : adapter.reason),
        variant(`logged c=${concurrency}`, durableNs, loggedNa),
      ];
      const outcomes = await measureInterleaved(variants, ctx);
      rows.push({
        concurrency,
        unlogged: outcomes.get(`unlogged c=${concurrency}`) ?? missing,
        logged: outcomes.get(`logged c=${concurrency}`) ?? missing,
      });
    }
  } finally {
    if (adapter.ok) await adapter.value.close();
  }
  return rows;
}

/** Adapter get vs baseline A get at the highest concurrency, both at each pool size. */
async function runPoolSweep(settings: BenchSettings, w: Workload, ctx: InterleaveContext): Promise<SweepRow[]> {
  const concurrency = Math.max(...settings.concurrencies);
  const loop = { concurrency, warmupMs: settings.warmupMs, durationMs: settings.durationMs };
  const rows: SweepRow[] = [];
  for (const poolMax of settings.poolSweep) {
    ctx.log(`[postgres] pool sweep poolMax=${poolMax} get c=${concurrency}`);
    const adapter = await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax });
    const raw = createRawPostgres(
      { url: settings.pgUrl, schema: settings.schema, timeoutMs: DEFAULT_ADAPTER_OPTIONS.timeoutMs, poolMax },
      settings.ns,
      w,
      settings.batchSize,
    );
    try {
      const baselineGet = raw.ops.get;
      const variants: Variant[] = [
        baselineGet === undefined
          ? { id: `pool ${poolMax} baseline`, naReason: 'no baseline' }
          : { id: `pool ${poolMax} baseline`, run: () => runClosedLoop(baselineGet.op, loop) },
        adapter.ok
          ? {
              id: `pool ${poolMax} adapter`,
              run: () => runClosedLoop(portOperation(adapter.value, 'get', settings.ns, w, settings.batchSize), loop),
            }
          : { id: `pool ${poolMax} adapter`, naReason: adapter.reason },
      ];
      const outcomes = await measureInterleaved(variants, ctx);
      const missing: CaseOutcome = { status: 'n/a', reason: 'missing' };
      rows.push({
        poolMax,
        adapter: outcomes.get(`pool ${poolMax} adapter`) ?? missing,
        baseline: outcomes.get(`pool ${poolMax} baseline`) ?? missing,
      });
    } finally {
      await raw.close();
      if (adapter.ok) await adapter.value.close();
    }
  }
  return rows;
}

/** Drops the bench schema and everything in it. */
export async function dropPostgresSchema(settings: BenchSettings): Promise<void> {
  const sql = postgres(settings.pgUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${settings.schema}" CASCADE`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
