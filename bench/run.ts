/**
 * `npm run bench`: every case, each against a baseline measured in the same
 * run, reported as ratios in bench/results/latest.{md,json}.
 * BENCH_QUICK=1 → ~1 minute smoke run; otherwise at most 17 minutes (the budget).
 * BENCH_SECTIONS=wrk,http (any of postgres, redis, http, wrk, wrk-mp, cleanup, cache) runs
 * only those; the http section reads the data the postgres and redis ones write.
 *
 * Everything runs against 127.0.0.1, stops by itself (fixed durations plus an
 * overall budget), and removes what it created: the bench schema and every
 * key of the bench Redis prefix, also when interrupted (Ctrl-C).
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createBudget, type Budget } from './lib/budget.js';
import type { InterleaveContext } from './lib/interleave.js';
import { errorMessage } from './lib/measurement.js';
import { loadBenchSettings } from './lib/settings.js';
import { createWorkload } from './lib/workload.js';
import { renderMarkdown } from './report/markdown.js';
import type { BenchResults } from './report/results.js';
import { runCacheLayerSection, type CacheLayerOutcome } from './sections/cache-layer.js';
import { runCleanupCase, type CleanupOutcome } from './sections/cleanup-case.js';
import { runHttpSection, type HttpResults } from './sections/http.js';
import { dropPostgresSchema, preparePostgres, runPostgresSection, type PostgresResults } from './sections/postgres.js';
import { deleteBenchKeys, runRedisSection, type RedisResults } from './sections/redis.js';
import { runWrkMpSection, type WrkMpResults } from './sections/wrk-mp.js';
import { runWrkSection, type WrkResults } from './sections/wrk.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const SECTIONS = ['postgres', 'redis', 'http', 'wrk', 'wrk-mp', 'cleanup', 'cache'] as const;
type SectionName = (typeof SECTIONS)[number];

/** BENCH_SECTIONS (comma-separated) selects sections; unset or empty: all of them. */
function selectedSections(): ReadonlySet<SectionName> {
  const raw = process.env.BENCH_SECTIONS?.trim() ?? '';
  if (raw === '') return new Set(SECTIONS);
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_SECTIONS: unknown section ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
  return new Set(names as SectionName[]);
}

/** A section that throws is reported, and the run goes on with the next one. */
async function section<T>(name: string, failures: string[], fallback: T, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const message = `${name} section failed: ${errorMessage(error)}`;
    log(message);
    failures.push(message);
    return fallback;
  }
}

/** Below this much budget left, the cache section is not started (it would not finish its feed trials). */
const CACHE_MIN_MS = { quick: 15_000, full: 60_000 };

/** The cache-layer section (issue 16) in its own schema, which it drops; skipped when the budget is too short for it. */
async function runCacheLayer(settings: ReturnType<typeof loadBenchSettings>, budget: Budget): Promise<CacheLayerOutcome> {
  if (budget.remainingMs() < CACHE_MIN_MS[settings.quick ? 'quick' : 'full']) return { status: 'skipped', reason: budget.reason() };
  const results = await runCacheLayerSection({
    pgUrl: settings.pgUrl,
    redisUrl: settings.redisUrl,
    schema: `${settings.schema}_cache`,
    quick: settings.quick,
  });
  return { status: 'ok', results };
}

/** BENCH_RESULTS_NAME names the result files (a partial run should not overwrite latest.md); default `latest`. */
function resultsName(): string {
  const name = process.env.BENCH_RESULTS_NAME?.trim() || 'latest';
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(name))
    throw new Error(`BENCH_RESULTS_NAME: letters, digits, . _ - only, got ${JSON.stringify(name)}`);
  return name;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

async function removeLeftovers(settings: ReturnType<typeof loadBenchSettings>, failures: string[]): Promise<void> {
  await dropPostgresSchema(settings).catch((error: unknown) => failures.push(`dropping schema ${settings.schema}: ${errorMessage(error)}`));
  await deleteBenchKeys(settings).catch((error: unknown) =>
    failures.push(`deleting Redis keys ${settings.redisPrefix}:*: ${errorMessage(error)}`),
  );
}

async function main(): Promise<number> {
  const settings = loadBenchSettings();
  const selected = selectedSections();
  const name = resultsName();
  const budget = createBudget(settings.budgetMs);
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    log('interrupted: finishing the current measurement, then cleaning up (Ctrl-C again to quit at once)');
    budget.abort('interrupted');
  });

  const startedAt = new Date();
  const loadStart = loadavg()[0] ?? 0;
  const ctx: InterleaveContext = { reps: settings.reps, budget, log };
  const w = createWorkload(settings.keyCount, settings.valueBytes);
  const failures: string[] = [];
  log(
    `cacheport bench (${settings.quick ? 'quick' : 'full'}): ${settings.reps} runs per case, budget ${Math.round(settings.budgetMs / 1000)} s`,
  );

  let pg: PostgresResults = { rows: [], coalescingOff: [], durability: [], sweep: [], notes: [] };
  let redis: RedisResults = { rows: [], notes: [] };
  let http: HttpResults = { rows: [], notes: [] };
  let wrk: WrkResults = { rows: [], notes: [] };
  let wrkMp: WrkMpResults = { rows: [], notes: [] };
  let cleanup: CleanupOutcome = { status: 'skipped', reason: 'not run' };
  let cacheLayer: CacheLayerOutcome = { status: 'skipped', reason: 'not run' };
  try {
    // A previous run that was killed may have left its schema or keys behind.
    await removeLeftovers(settings, failures);
    if (selected.has('postgres')) {
      pg = await section('postgres', failures, pg, async () => {
        await preparePostgres(settings, w);
        return runPostgresSection(settings, w, ctx);
      });
    }
    if (selected.has('redis')) redis = await section('redis', failures, redis, () => runRedisSection(settings, w, ctx));
    if (selected.has('http')) http = await section('http', failures, http, () => runHttpSection(settings, w, ctx));
    if (selected.has('wrk')) wrk = await section('wrk', failures, wrk, () => runWrkSection(settings, ctx));
    if (selected.has('wrk-mp')) wrkMp = await section('wrk-mp', failures, wrkMp, () => runWrkMpSection(settings, ctx));
    // The cache section before cleanup: it needs its minimum, cleanup fits as many runs as time allows.
    if (selected.has('cache')) {
      const failed: CacheLayerOutcome = { status: 'n/a', reason: 'the section failed (see Notes)' };
      cacheLayer = await section('cache', failures, failed, () => runCacheLayer(settings, budget));
    }
    if (selected.has('cleanup')) {
      cleanup = await section('cleanup', failures, cleanup, () =>
        runCleanupCase(settings, settings.quick ? 1 : settings.reps, budget, log),
      );
    }
  } finally {
    await removeLeftovers(settings, failures);
  }

  const finishedAt = new Date();
  const results: BenchResults = {
    meta: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      elapsedSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      mode: settings.quick ? 'quick' : 'full',
      sections: selected.size === SECTIONS.length ? 'all' : [...selected],
      node: process.versions.node,
      cpus: availableParallelism(),
      loadAverage: { start: loadStart, end: loadavg()[0] ?? 0 },
      selection: `Each case ran ${settings.reps} times, interleaved with its baseline (A B A B …); reported: the best run (highest ops/s) with that run's p50/p99.`,
    },
    settings,
    postgres: { rows: pg.rows, coalescingOff: pg.coalescingOff, durability: pg.durability, sweep: pg.sweep },
    redis: { rows: redis.rows },
    http: { rows: http.rows },
    wrk: { rows: wrk.rows },
    wrkMp: { rows: wrkMp.rows },
    cleanup,
    cacheLayer,
    notes: [...failures, ...pg.notes, ...redis.notes, ...http.notes, ...wrk.notes, ...wrkMp.notes],
  };

  const markdown = renderMarkdown(results);
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeAtomically(`${RESULTS_DIR}${name}.json`, `${JSON.stringify(results, null, 2)}\n`);
  await writeAtomically(`${RESULTS_DIR}${name}.md`, markdown);
  process.stdout.write(markdown);
  log(`\nwritten: bench/results/${name}.md, bench/results/${name}.json (${results.meta.elapsedSeconds} s)`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
