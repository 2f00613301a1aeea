/**
 * The performance targets from the issue, checked against this run's ratios.
 * The Postgres adapter runs in its default configuration (request coalescing on).
 */
import { ratio, type CaseOutcome } from '../lib/measurement.js';
import type { PortOpName } from '../lib/port-ops.js';
import type { HttpTarget } from '../sections/http.js';
import { WRK_MP_CONNECTIONS, WRK_MP_HALF_CONNECTIONS } from '../sections/wrk-mp.js';
import type { WrkTarget } from '../sections/wrk.js';
import type { BackendName } from '../sections/port-cases.js';
import type { BenchResults } from './results.js';

export interface TargetCheck {
  target: string;
  threshold: number;
  measured: number | undefined;
  /** How to show measured when it is not a ratio (e.g. "42.0 ms"); default: a ratio "1.23×". */
  shown?: string;
  /** reported: a figure the issue asks for without a target. */
  status: 'met' | 'not met' | 'n/a' | 'reported';
}

function portRow(results: BenchResults, backend: BackendName, op: PortOpName, concurrency: number) {
  const rows = backend === 'postgres' ? results.postgres.rows : results.redis.rows;
  return rows.find((r) => r.op === op && r.concurrency === concurrency);
}

function httpOutcome(results: BenchResults, target: HttpTarget, connections: number): CaseOutcome | undefined {
  return results.http.rows.find((r) => r.target === target && r.connections === connections)?.outcome;
}

function wrkOutcome(results: BenchResults, target: WrkTarget, connections: number): CaseOutcome | undefined {
  return results.wrk.rows.find((r) => r.target === target && r.workload === 'uniform' && r.connections === connections)?.outcome;
}

function check(target: string, threshold: number, measured: number | undefined): TargetCheck {
  const status = measured === undefined ? 'n/a' : measured >= threshold ? 'met' : 'not met';
  return { target, threshold, measured, status };
}

/**
 * Two workers share the connections, so each sees about half: their batching is held against one process at half
 * the connections. The workers' combined keys per statement (all their gets ÷ all their statements) is compared, not
 * the lower worker's: the cluster's round robin need not split 64 connections 32/32 (a busy worker is skipped), and
 * a worker given fewer connections batches fewer keys without its coalescer doing worse. The table shows each
 * worker's figure and share. Keys per statement depends on timing, so a margin covers run-to-run drift.
 */
export const PER_PROCESS_BATCHING_THRESHOLD = 0.9;

/** Issue 18, per server placement: req/s of WEB_CONCURRENCY=2 ÷ 1 (reported) and per-process get batching (checked). */
function wrkMpChecks(results: BenchResults): TargetCheck[] {
  const rows = results.wrkMp?.rows ?? [];
  if (rows.length === 0) return [];
  return (['pinned', 'unpinned'] as const).flatMap((placement) => {
    const row = (processes: number, connections: number) =>
      rows.find((r) => r.placement === placement && r.processes === processes && r.connections === connections);
    const measured = ratio(row(2, WRK_MP_CONNECTIONS)?.outcome, row(1, WRK_MP_CONNECTIONS)?.outcome);
    const where = placement === 'pinned' ? 'server on CPU 1 only' : 'server unpinned';
    const two = row(2, WRK_MP_CONNECTIONS)?.batching;
    const workers = two?.perProcess.length === 2 ? two.overall : undefined;
    const single = row(1, WRK_MP_HALF_CONNECTIONS)?.batching?.overall;
    const batching = workers === undefined || single === undefined ? undefined : workers / single;
    return [
      {
        target: `Multi-process scaling: req/s WEB_CONCURRENCY=2 ÷ 1 (wrk on CPU 0, ${where}; no target)`,
        threshold: 0,
        measured,
        status: measured === undefined ? 'n/a' : 'reported',
      } satisfies TargetCheck,
      {
        ...check(
          `Per-process get batching with 2 workers vs 1 (${where}): keys per get statement of the 2 workers at c=${WRK_MP_CONNECTIONS} ÷ ` +
            `1 process at c=${WRK_MP_HALF_CONNECTIONS} ≥ ${PER_PROCESS_BATCHING_THRESHOLD}`,
          PER_PROCESS_BATCHING_THRESHOLD,
          batching,
        ),
        shown:
          batching === undefined || workers === undefined || single === undefined
            ? undefined
            : `${batching.toFixed(2)}× (${workers.toFixed(1)} vs ${single.toFixed(1)} keys/statement)`,
      },
    ];
  });
}

/** Issue 16 (cache layer): the local-cache ratio, the getOrSet ratio (reported) and the feed delay p99 per backend. */
function cacheLayerChecks(results: BenchResults): TargetCheck[] {
  const figures = results.cacheLayer.status === 'ok' ? results.cacheLayer.results : undefined;
  const getOrSet = figures?.getOrSetVsSelect;
  const checks = [
    check('Local-cache hit ≥ 10× raw ioredis GET (speed, c=1)', 10, figures?.localVsRedis),
    {
      target: '`getOrSet` hit (Postgres) vs raw postgres.js select (latency ratio, c=1; no target)',
      threshold: 0,
      measured: getOrSet,
      status: getOrSet === undefined ? 'n/a' : 'reported',
    } satisfies TargetCheck,
  ];
  for (const [name, p99] of [
    ['Postgres', figures?.feedDelayP99Ms],
    ['Redis', figures?.redisFeedDelayP99Ms],
  ] as const) {
    const status = p99 === undefined ? 'n/a' : p99 <= 100 ? 'met' : 'not met';
    const shown = p99 === undefined ? undefined : `${p99.toFixed(1)} ms`;
    checks.push({ target: `Change-feed delay p99 ≤ 100 ms, ${name}`, threshold: 100, measured: p99, shown, status });
  }
  return checks;
}

/** Issue 18: foreground get p99 during TTL cleanup ÷ alone, with the worker's pacing; the worst run counts. */
function cleanupCheck(results: BenchResults): TargetCheck {
  const target = 'Foreground get p99 during TTL cleanup ≤ 1.5× without (worker pacing, worst run)';
  const ratios =
    results.cleanup.status === 'ok'
      ? results.cleanup.runs.flatMap((run) => run.results.filter((r) => r.pacing === 'worker').map((r) => r.p99Ratio))
      : [];
  if (ratios.length === 0) return { target, threshold: 1.5, measured: undefined, status: 'n/a' };
  const worst = Math.max(...ratios);
  const shown = ratios.map((r) => `${r.toFixed(2)}×`).join(', ');
  return { target, threshold: 1.5, measured: worst, shown, status: worst <= 1.5 ? 'met' : 'not met' };
}

export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const concurrencies = results.settings.concurrencies;
  const top = Math.max(...concurrencies);

  for (const [backend, name, base] of [
    ['postgres', 'Postgres', 'A'],
    ['redis', 'Redis', 'B'],
  ] as const) {
    for (const op of ['get', 'set'] as const) {
      for (const c of concurrencies) {
        const row = portRow(results, backend, op, c);
        checks.push(check(`${name} adapter ${op} ≥ 0.9× ${base} (c=${c})`, 0.9, row && ratio(row.adapter, row.baseline)));
      }
    }
  }

  const pgGet = portRow(results, 'postgres', 'get', top);
  const redisRawGet = portRow(results, 'redis', 'get', top);
  checks.push(check(`Postgres adapter get ≥ 2× A (c=${top}, request coalescing)`, 2, pgGet && ratio(pgGet.adapter, pgGet.baseline)));
  checks.push(
    check(
      `Postgres adapter get ≥ 0.35× raw Redis GET (B) (c=${top}, request coalescing)`,
      0.35,
      pgGet && redisRawGet && ratio(pgGet.adapter, redisRawGet.baseline),
    ),
  );

  for (const [backend, name, threshold] of [
    ['postgres', 'Postgres', 0.5],
    ['redis', 'Redis', 0.7],
  ] as const) {
    for (const c of results.settings.httpConnections) {
      checks.push(
        check(
          `HTTP GET ${name} ≥ ${threshold}× C (${c} conn.)`,
          threshold,
          ratio(httpOutcome(results, backend, c), httpOutcome(results, 'bare-hono', c)),
        ),
      );
    }
  }
  const topHttp = Math.max(...results.settings.httpConnections);
  checks.push(
    check(
      `HTTP GET Postgres, multi-process ≥ 0.5× webdis (${topHttp} conn.)`,
      0.5,
      ratio(httpOutcome(results, 'postgres-cluster', topHttp), httpOutcome(results, 'webdis', topHttp)),
    ),
  );

  // Issue 18, measured with wrk: ratios of req/s against bare Hono, uniform keys.
  const topWrk = Math.max(...results.settings.wrkConnections);
  for (const [target, label, threshold] of [
    ['postgres', 'HTTP GET Postgres', 0.6],
    ['local-cache', 'HTTP GET `localCache` namespace (hit)', 0.85],
    ['health', 'HTTP `/health`', 0.9],
  ] as const) {
    const bare = wrkOutcome(results, 'bare-hono', topWrk);
    checks.push(
      check(
        `${label} ≥ ${threshold}× bare Hono (wrk, uniform, ${topWrk} conn.)`,
        threshold,
        ratio(wrkOutcome(results, target, topWrk), bare),
      ),
    );
  }
  checks.push(...wrkMpChecks(results));
  checks.push(cleanupCheck(results));
  checks.push(...cacheLayerChecks(results));
  return checks;
}
