/**
 * Cleanup bench (standalone): how fast TTL cleanup deletes expired rows, and
 * what it does to foreground get latency, for two pacings: the old unpaced
 * one (batches of 5,000, no pause) and the worker's (CLEANUP_BATCH_SIZE /
 * CLEANUP_PAUSE_MS, defaults from src/config.ts). Per pacing:
 *   1. fill a fresh schema with N expired rows and 10,000 live "hot" keys;
 *   2. foreground gets alone for a few seconds (baseline p50/p99);
 *   3. the same gets while runTtlCleanup deletes all N rows.
 * Prints a markdown table with the p99 ratio (during ÷ alone) against the
 * target (≤ 1.5×). N = 1,000,000 (BENCH_QUICK=1 → 100,000).
 *
 *   npx tsx bench/cleanup.ts      (DATABASE_URL, default the local test database)
 */
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { runMigrations } from '../src/adapters/postgres/migrate.js';
import { createPgClient, type Sql } from '../src/adapters/postgres/connection.js';
import { createPostgresPort, type PostgresPort } from '../src/adapters/postgres/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../src/core/defaults.js';
import { loadConfig } from '../src/config.js';
import { runTtlCleanup } from '../jobs/ttl-cleanup.js';
import { CLEANUP_RESULT_PREFIX, type CleanupPacingResult as PacingResult } from './sections/cleanup-case.js';

const URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const QUICK = process.env.BENCH_QUICK === '1';
const EXPIRED_ROWS = QUICK ? 100_000 : 1_000_000;
const HOT_KEYS = 10_000;
const INSERT_CHUNK = 100_000;
const BASELINE_MS = QUICK ? 3000 : 5000;
const FOREGROUND_LOOPS = 4;
/** Issue 18: foreground get p99 during cleanup at most this many times the p99 without. */
const P99_TARGET = 1.5;

interface Pacing {
  kind: PacingResult['pacing'];
  label: string;
  batchSize: number;
  pauseMs: number;
}

interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Runs FOREGROUND_LOOPS closed loops of gets on hot keys until `until` resolves. */
async function foregroundGets(port: PostgresPort, until: Promise<unknown>): Promise<LatencySummary> {
  let done = false;
  void until.finally(() => (done = true));
  const samples: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: FOREGROUND_LOOPS }, async (_, loop) => {
      for (let i = loop; !done; i += FOREGROUND_LOOPS) {
        const started = performance.now();
        try {
          await port.get('bench', `hot-${(i * 7919) % HOT_KEYS}`);
          samples.push(performance.now() - started);
        } catch {
          errors++;
        }
      }
    }),
  );
  samples.sort((a, b) => a - b);
  return { count: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), errors };
}

/** EXPIRED_ROWS expired rows plus the hot keys (upserted: the second fill finds them present). */
async function fill(sql: Sql): Promise<void> {
  const started = performance.now();
  for (let from = 1; from <= EXPIRED_ROWS; from += INSERT_CHUNK) {
    const to = Math.min(EXPIRED_ROWS, from + INSERT_CHUNK - 1);
    await sql`
      INSERT INTO entries (ns, key, value, content_type, etag, size, expires_at)
      SELECT 'bench', 'old-' || g, '\\x00'::bytea, 'application/octet-stream', 'e', 1, now() - interval '1 second'
      FROM generate_series(${from}::int, ${to}::int) g
    `;
  }
  await sql`
    INSERT INTO entries (ns, key, value, content_type, etag, size, expires_at)
    SELECT 'bench', 'hot-' || g, '\\x00'::bytea, 'application/octet-stream', 'e', 1, now() + interval '1 hour'
    FROM generate_series(0, ${HOT_KEYS - 1}::int) g
    ON CONFLICT DO NOTHING
  `;
  await sql`VACUUM ANALYZE entries`;
  console.error(`filled ${EXPIRED_ROWS.toLocaleString('en-US')} expired rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const ms = (n: number): string => (Number.isNaN(n) ? '–' : `${n.toFixed(2)} ms`);

async function measure(sql: Sql, port: PostgresPort, pacing: Pacing): Promise<{ rows: string[]; result: PacingResult }> {
  await fill(sql);
  const alone = await foregroundGets(port, new Promise((resolve) => setTimeout(resolve, BASELINE_MS)));
  const cleanup = runTtlCleanup(sql, { batchSize: pacing.batchSize, pauseMs: pacing.pauseMs, timeBudgetMs: 600_000 });
  const during = await foregroundGets(port, cleanup);
  const result = await cleanup;
  const seconds = result.durationMs / 1000;
  const ratio = during.p99 / alone.p99;
  const status = ratio <= P99_TARGET ? 'met' : '**not met**';
  const rowsPerSecond = Math.round(result.deleted.entries / seconds);
  const rows = [
    `| ${pacing.label} | gets alone | ${(BASELINE_MS / 1000).toFixed(1)} s | – | – | ${alone.count} | ${ms(alone.p50)} | ${ms(alone.p99)} | | ${alone.errors} |`,
    `| ${pacing.label} | gets during cleanup | ${seconds.toFixed(1)} s | ${result.deleted.entries.toLocaleString('en-US')} | ${Math.round(result.deleted.entries / seconds).toLocaleString('en-US')} | ${during.count} | ${ms(during.p50)} | ${ms(during.p99)} | ${ratio.toFixed(2)}× (target ≤ ${P99_TARGET}×: ${status}) | ${during.errors} |`,
  ];
  return { rows, result: { pacing: pacing.kind, p99Ratio: ratio, rowsPerSecond } };
}

async function main(): Promise<void> {
  const config = loadConfig({ CLEANUP_BATCH_SIZE: process.env.CLEANUP_BATCH_SIZE, CLEANUP_PAUSE_MS: process.env.CLEANUP_PAUSE_MS });
  const pacings: Pacing[] = [
    { kind: 'unpaced', label: 'unpaced: 5,000 rows, no pause', batchSize: 5000, pauseMs: 0 },
    {
      kind: 'worker',
      label: `worker: ${config.cleanupBatchSize.toLocaleString('en-US')} rows, ${config.cleanupPauseMs} ms pause`,
      batchSize: config.cleanupBatchSize,
      pauseMs: config.cleanupPauseMs,
    },
  ];
  const schema = `bench_cleanup_${Date.now().toString(36)}`;
  await runMigrations(URL, schema);
  const sql = createPgClient({ url: URL, schema, max: 2, timeoutMs: 120_000, applicationName: 'cacheport-bench-cleanup' });
  const port = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, url: URL, schema, poolMax: FOREGROUND_LOOPS + 1 });
  try {
    const rows: string[] = [];
    const results: PacingResult[] = [];
    for (const pacing of pacings) {
      const measured = await measure(sql, port, pacing);
      rows.push(...measured.rows);
      results.push(measured.result);
    }
    console.log(
      `\n### TTL cleanup: ${EXPIRED_ROWS.toLocaleString('en-US')} expired rows per pacing, ${FOREGROUND_LOOPS} foreground get loops\n`,
    );
    console.log(
      '| pacing (batch, pause) | phase | duration | rows deleted | rows/s | gets | get p50 | get p99 | p99 during ÷ alone | get errors |',
    );
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
    for (const row of rows) console.log(row);
    console.log(`${CLEANUP_RESULT_PREFIX}${JSON.stringify(results)}`);
  } finally {
    await port.close();
    await sql.end({ timeout: 5 });
    const admin = postgres(URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
