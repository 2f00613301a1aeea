/**
 * Benchmark settings from the environment. BENCH_QUICK=1 is a ~1 minute smoke
 * run; the default is the full run (at most 17 minutes). Everything targets 127.0.0.1.
 */
export interface BenchSettings {
  quick: boolean;
  pgUrl: string;
  redisUrl: string;
  /** Dedicated schema, dropped at the end. */
  schema: string;
  /** Dedicated Redis key prefix, deleted at the end. */
  redisPrefix: string;
  /** Namespace every entry case uses. */
  ns: string;
  keyCount: number;
  valueBytes: number;
  batchSize: number;
  concurrencies: number[];
  /** Pool size of the adapter and of baseline A in the main cases. */
  poolMax: number;
  poolSweep: number[];
  /** Each measurement: warm up, then measure, both closed-loop. */
  warmupMs: number;
  durationMs: number;
  /** HTTP runs (autocannon) are separate because they need whole sample intervals. */
  httpWarmupMs: number;
  httpDurationMs: number;
  httpConnections: number[];
  /** HTTP runs with wrk: keys of their own namespace (uniform and Zipf workloads), connections, wrk threads, durations. */
  wrkKeyCount: number;
  wrkConnections: number[];
  wrkThreads: number;
  wrkWarmupMs: number;
  wrkDurationMs: number;
  /** s of the Zipf workload: P(rank r) ∝ 1 / r^s. */
  zipfExponent: number;
  /** Runs of every case; the best one is reported. */
  reps: number;
  /** Hard stop for the whole run: cases past it are reported as skipped. */
  budgetMs: number;
}

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function loadBenchSettings(): BenchSettings {
  const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';
  return {
    quick,
    pgUrl: process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test',
    redisUrl: process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    schema: process.env.BENCH_SCHEMA ?? 'cacheport_bench',
    redisPrefix: process.env.BENCH_REDIS_PREFIX ?? 'cpbench',
    ns: 'bench',
    keyCount: 10_000,
    valueBytes: 1024,
    batchSize: 64,
    concurrencies: [1, 64],
    poolMax: 10,
    poolSweep: [2, 4, 8, 16],
    warmupMs: quick ? 100 : 500,
    durationMs: intFromEnv('BENCH_DURATION_MS', quick ? 250 : 2000),
    httpWarmupMs: quick ? 250 : 1000,
    httpDurationMs: quick ? 1000 : 3000,
    httpConnections: [1, 64],
    wrkKeyCount: intFromEnv('BENCH_WRK_KEYS', quick ? 10_000 : 100_000),
    wrkConnections: [64],
    wrkThreads: 1,
    wrkWarmupMs: 1000,
    wrkDurationMs: intFromEnv('BENCH_WRK_DURATION_MS', quick ? 2000 : 3000),
    zipfExponent: 1,
    reps: Math.max(2, intFromEnv('BENCH_REPS', 2)),
    budgetMs: quick ? 3 * 60_000 : 17 * 60_000,
  };
}
