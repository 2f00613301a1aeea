/** Renders a run's results as the markdown of bench/results/latest.md. */
import { ratio, type CaseOutcome } from '../lib/measurement.js';
import { PORT_OP_LABELS } from '../lib/port-ops.js';
import { BENCH_WEB_CONCURRENCY, HTTP_TARGETS, type HttpTarget } from '../sections/http.js';
import type { PortRow } from '../sections/port-cases.js';
import { WRK_TARGETS, WRK_WORKLOADS, type WrkTarget } from '../sections/wrk.js';
import { WRK_MP_CONNECTIONS, WRK_MP_PLACEMENTS, type WrkMpBatching, type WrkMpPlacement } from '../sections/wrk-mp.js';
import type { BenchResults } from './results.js';
import { checkTargets } from './targets.js';

const HTTP_LABELS: Record<HttpTarget, string> = {
  'bare-hono': 'baseline C: bare Hono route, constant 1 KiB',
  postgres: 'cacheport server, Postgres backend',
  redis: 'cacheport server, Redis backend',
  webdis: 'webdis `/GET/<key>.txt` (reference)',
  'postgres-cluster': `cacheport server, Postgres backend, WEB_CONCURRENCY=${BENCH_WEB_CONCURRENCY}`,
};

const WRK_LABELS: Record<WrkTarget, string> = {
  'bare-hono': 'bare Hono route, constant 1 KiB (same runtime)',
  health: 'cacheport `/health` (no backend call)',
  postgres: 'cacheport GET 1 KiB, Postgres backend',
  redis: 'cacheport GET 1 KiB, Redis backend',
  'local-cache': 'cacheport GET 1 KiB, `localCache` namespace (hit)',
  webdis: 'webdis `/GET/<key>.txt` (reference)',
};

function ops(o: CaseOutcome): string {
  return o.status === 'ok' ? Math.round(o.best.opsPerSec).toLocaleString('en-US') : o.status;
}

function ms(o: CaseOutcome, which: 'p50' | 'p99'): string {
  if (o.status !== 'ok') return '';
  const v = o.best[which];
  return v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function times(r: number | undefined): string {
  return r === undefined ? 'n/a' : `${r.toFixed(2)}×`;
}

function cpuPerRequest(o: CaseOutcome | undefined): number | undefined {
  return o?.status === 'ok' ? o.best.serverCpuUsPerOp : undefined;
}

/** Server CPU µs per request of a case ÷ that of bare Hono (lower is better). */
function cpuRatio(o: CaseOutcome | undefined, base: CaseOutcome | undefined): string {
  const subject = cpuPerRequest(o);
  const baseline = cpuPerRequest(base);
  return subject === undefined || baseline === undefined || baseline === 0 ? 'n/a' : `${(subject / baseline).toFixed(2)}×`;
}

function wrkSection(results: BenchResults): string[] {
  const { settings } = results;
  const rows: string[][] = [];
  for (const connections of settings.wrkConnections) {
    for (const workload of WRK_WORKLOADS) {
      const base = results.wrk.rows.find(
        (r) => r.target === 'bare-hono' && r.workload === workload && r.connections === connections,
      )?.outcome;
      for (const target of WRK_TARGETS) {
        const row = results.wrk.rows.find((r) => r.target === target && r.workload === workload && r.connections === connections);
        if (row === undefined) continue;
        const cpu = cpuPerRequest(row.outcome);
        rows.push([
          WRK_LABELS[target],
          workload,
          String(connections),
          ops(row.outcome),
          ms(row.outcome, 'p50'),
          ms(row.outcome, 'p99'),
          cpu === undefined ? '' : cpu.toFixed(0),
          times(ratio(row.outcome, base)),
          cpuRatio(row.outcome, base),
        ]);
      }
    }
  }
  return [
    '## HTTP with wrk: req/s and server CPU per request',
    '',
    `wrk (${settings.wrkThreads} thread, keep-alive connections), ${settings.wrkWarmupMs} ms warm-up + ${settings.wrkDurationMs} ms measured per run, ` +
      `${settings.wrkKeyCount.toLocaleString('en-US')} keys of ${settings.valueBytes} B in a namespace of their own. ` +
      `Workloads: **uniform** (every key equally likely) and **zipf** (hot keys: P(rank r) ∝ 1/r^${settings.zipfExponent}, ranks spread over the key range); ` +
      'both choose from requests precomputed in the wrk Lua script, the same script for bare Hono as for cacheport. `/health` is measured once (its path is fixed). ' +
      'Server CPU = user + system time of the server process (all its threads, from /proc/<pid>/stat, 10 ms resolution) over the measured run ÷ requests; ' +
      'the database and wrk are not included. Ratios are against bare Hono under the same workload in the same run: req/s (higher is better) and CPU per request (lower is better).',
    '',
    ...table(
      ['server', 'workload', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'req/s vs bare Hono', 'CPU/req vs bare Hono'],
      rows,
    ),
    '',
  ];
}

const WRK_MP_PLACEMENT_LABELS: Record<WrkMpPlacement, string> = {
  pinned: 'server on CPU 1 only',
  unpinned: 'server on both CPUs',
};

/** Keys per get statement: overall, then each worker's with its share of the gets when there are several ("4.1 (w0 3.0 on 40%, …)"). */
function keysPerStatement(batching: WrkMpBatching | undefined): string {
  if (batching === undefined) return '';
  const overall = batching.overall.toFixed(1);
  if (batching.perProcess.length < 2) return overall;
  const gets = batching.perProcess.reduce((n, p) => n + p.requests, 0);
  const each = batching.perProcess.map(
    (p) => `w${p.worker} ${p.keysPerStatement.toFixed(1)} on ${((100 * p.requests) / gets).toFixed(0)}%`,
  );
  return `${overall} (${each.join(', ')})`;
}

/** Issue 18: WEB_CONCURRENCY=1 vs 2 with wrk pinned to CPU 0; rendered only when the wrk-mp section ran. */
function wrkMpSection(results: BenchResults): string[] {
  const all = results.wrkMp?.rows ?? [];
  if (all.length === 0) return [];
  const rows: string[][] = [];
  for (const placement of WRK_MP_PLACEMENTS) {
    const one = all.find((r) => r.placement === placement && r.processes === 1 && r.connections === WRK_MP_CONNECTIONS)?.outcome;
    for (const row of all.filter((r) => r.placement === placement)) {
      const cpu = cpuPerRequest(row.outcome);
      const baseline = row.processes === 1 && row.connections === WRK_MP_CONNECTIONS;
      rows.push([
        WRK_MP_PLACEMENT_LABELS[placement],
        String(row.processes),
        String(row.connections),
        ops(row.outcome),
        ms(row.outcome, 'p50'),
        ms(row.outcome, 'p99'),
        cpu === undefined ? '' : cpu.toFixed(0),
        baseline ? '1.00×' : times(ratio(row.outcome, one)),
        baseline ? '1.00×' : cpuRatio(row.outcome, one),
        keysPerStatement(row.batching),
      ]);
    }
  }
  const { settings } = results;
  return [
    '## Multi-process mode with wrk: WEB_CONCURRENCY=1 vs 2 (bench/sections/wrk-mp.ts)',
    '',
    `cacheport GET of a cached ${settings.valueBytes} B entry, Postgres backend, \`npm start\` with WEB_CONCURRENCY=1 (one process, no cluster) and 2 ` +
      `(a primary that serves nothing and two workers), ${settings.wrkKeyCount.toLocaleString('en-US')} keys chosen uniformly; ` +
      `wrk (${settings.wrkThreads} thread) pinned to CPU 0 with \`taskset -c 0\`, ${settings.wrkWarmupMs} ms warm-up + ${settings.wrkDurationMs} ms measured per run, ` +
      'each server started for its run and stopped after it. **server on CPU 1 only**: the server and every worker it forks started under `taskset -c 1`, ' +
      'so both settings have the same one core; **server on both CPUs**: not pinned, so workers can also run on CPU 0 beside wrk (and Postgres runs on ' +
      'either core in both cases). Server CPU = user + system time summed over the primary and its workers (/proc/<pid>/stat) ÷ requests. ' +
      `Factor = WEB_CONCURRENCY=2 ÷ WEB_CONCURRENCY=1 at ${WRK_MP_CONNECTIONS} connections, same placement, same run. ` +
      'Keys per get statement = coalesced gets ÷ get statements sent (`cacheport_coalesced_requests_total{op="get"}` ÷ ' +
      '`cacheport_coalesced_statements_total{op="get"}`), scraped from every server process (each worker by its `worker` label) before and ' +
      'after each measured run and summed over the runs: overall, then per worker (w0, w1) with its share of the gets (the cluster need not split ' +
      'the connections evenly). The 1-process row at ' +
      `${WRK_MP_CONNECTIONS / 2} connections (run right after the ${WRK_MP_CONNECTIONS}-connection one, same server) is the load each of two workers sees: ` +
      'the baseline for per-process batching.',
    '',
    ...table(
      [
        'placement',
        'WEB_CONCURRENCY',
        'connections',
        'req/s',
        'p50 ms',
        'p99 ms',
        'server CPU µs/req',
        'req/s vs 1 process',
        'CPU/req vs 1 process',
        'keys per get statement',
      ],
      rows,
    ),
    '',
  ];
}

function cacheLayerSection(results: BenchResults): string[] {
  const outcome = results.cacheLayer;
  const head = ['## Cache layer: local cache, `getOrSet`, change feed (bench/sections/cache-layer.ts)', ''];
  if (outcome.status !== 'ok') return [...head, `${outcome.status}: ${outcome.reason}`, ''];
  const r = outcome.results;
  const us = (v: number): string => `${v.toFixed(2)} µs`;
  const msOf = (v: number): string => `${v.toFixed(2)} ms`;
  return [
    ...head,
    'Sequential calls (c=1) of a small JSON value, all in this run: per-call latencies and their ratio. ' +
      'Local cache = `createCache` with `localCache` over the Postgres port, a hit served from process memory. ' +
      `Feed delay = from the start of a \`set\` through one port to its event at another port's \`changes\` feed (an upper bound), ` +
      `${r.feedTrials} writes per backend.`,
    '',
    ...table(
      ['figure', 'measured', 'baseline (same run)', 'ratio'],
      [
        ['local-cache hit vs raw ioredis GET', us(r.localHitUs), us(r.redisGetUs), `${r.localVsRedis.toFixed(1)}× faster`],
        [
          '`getOrSet` hit (Postgres) vs raw postgres.js single-key select',
          us(r.getOrSetHitUs),
          us(r.pgSelectUs),
          `${r.getOrSetVsSelect.toFixed(2)}× the select's time`,
        ],
        ['change-feed delay, Postgres (LISTEN/NOTIFY)', `p50 ${msOf(r.feedDelayP50Ms)}, p99 ${msOf(r.feedDelayP99Ms)}`, '', ''],
        ['change-feed delay, Redis (pub/sub)', `p50 ${msOf(r.redisFeedDelayP50Ms)}, p99 ${msOf(r.redisFeedDelayP99Ms)}`, '', ''],
      ],
    ),
    '',
  ];
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function portTable(rows: PortRow[]): string[] {
  return table(
    ['op', 'c', 'adapter ops/s', 'p50 ms', 'p99 ms', 'baseline op', 'baseline ops/s', 'p50 ms', 'p99 ms', 'ratio'],
    rows.map((r) => [
      PORT_OP_LABELS[r.op],
      String(r.concurrency),
      ops(r.adapter),
      ms(r.adapter, 'p50'),
      ms(r.adapter, 'p99'),
      r.baselineLabel,
      ops(r.baseline),
      ms(r.baseline, 'p50'),
      ms(r.baseline, 'p99'),
      times(ratio(r.adapter, r.baseline)),
    ]),
  );
}

/** Why cells say n/a or skipped, one line per distinct reason. */
function reasons(results: BenchResults): string[] {
  const byReason = new Map<string, string[]>();
  const add = (name: string, o: CaseOutcome): void => {
    if (o.status === 'ok') return;
    const list = byReason.get(o.reason) ?? [];
    list.push(name);
    byReason.set(o.reason, list);
  };
  for (const r of [...results.postgres.rows, ...results.redis.rows]) {
    add(`${r.backend} ${r.op} c=${r.concurrency}`, r.adapter);
    add(`${r.backend} baseline ${r.baselineLabel} c=${r.concurrency}`, r.baseline);
  }
  for (const r of results.postgres.coalescingOff) add(`postgres ${r.op} c=${r.concurrency} coalescing off`, r.off);
  for (const r of results.postgres.durability) {
    add(`postgres set c=${r.concurrency} default namespace`, r.unlogged);
    add(`postgres set c=${r.concurrency} durable namespace`, r.logged);
  }
  for (const r of results.postgres.sweep) add(`pool ${r.poolMax}`, r.adapter);
  for (const r of results.http.rows) add(`http ${r.target} c=${r.connections}`, r.outcome);
  for (const r of results.wrk.rows) add(`wrk ${r.target} ${r.workload} c=${r.connections}`, r.outcome);
  for (const r of results.wrkMp?.rows ?? []) add(`wrk-mp WEB_CONCURRENCY=${r.processes} ${r.placement} c=${r.connections}`, r.outcome);
  return [...byReason].map(([reason, names]) => `- ${reason} — ${[...new Set(names)].join(', ')}`);
}

export function renderMarkdown(results: BenchResults): string {
  const { meta, settings } = results;
  const top = Math.max(...settings.concurrencies);
  const lines: string[] = [
    '# cacheport benchmark results',
    '',
    `${meta.mode === 'quick' ? 'Quick smoke run (`BENCH_QUICK=1`)' : 'Full run'}${meta.sections === 'all' ? '' : ` of the sections ${meta.sections.join(', ')} only`}, ${meta.startedAt}, ${meta.elapsedSeconds} s; Node ${meta.node}, ${meta.cpus} CPUs, ` +
      `1-min load average ${meta.loadAverage.start.toFixed(2)} at start, ${meta.loadAverage.end.toFixed(2)} at end.`,
    '',
    `Workload: ${settings.keyCount.toLocaleString('en-US')} pre-populated keys, ${settings.valueBytes} B values, uniform random key per call; ` +
      `closed loop (c workers each awaiting its call), ${settings.warmupMs} ms warm-up + ${settings.durationMs} ms measured per run; ` +
      `HTTP: autocannon, ${settings.httpWarmupMs} ms warm-up + ${settings.httpDurationMs} ms. ${meta.selection}`,
    '',
    '**Ratio** = subject ops/s ÷ baseline ops/s from the same run (higher is better). Absolute numbers depend on the machine and on whatever else it is running; compare ratios.',
    '',
    '## Targets',
    '',
    ...table(
      ['target', 'measured', 'status'],
      checkTargets(results).map((t) => [t.target, t.shown ?? times(t.measured), t.status === 'not met' ? '**not met**' : t.status]),
    ),
    '',
    `## Postgres adapter vs baseline A (raw postgres.js, UNLOGGED table of the same shape, pool ${settings.poolMax})`,
    '',
    ...portTable(results.postgres.rows),
    '',
    'Rate-limit and lock have no raw equivalent: their ratio is against one single-row upsert, i.e. how many write round trips they cost.',
    '',
    '### Request coalescing off (`coalesce: false`) vs baseline A',
    '',
    'The adapter coalesces concurrent single-key gets and unconditional sets by default (the table above). With it off, the ratio is the per-call overhead alone.',
    '',
    ...table(
      [
        'op',
        'c',
        'ratio, coalescing on (above)',
        'adapter ops/s, off',
        'p50 ms',
        'p99 ms',
        'baseline A ops/s',
        'p50 ms',
        'p99 ms',
        'ratio, off',
      ],
      results.postgres.coalescingOff.map((r) => {
        const on = results.postgres.rows.find((row) => row.op === r.op && row.concurrency === r.concurrency);
        return [
          r.op,
          String(r.concurrency),
          times(on && ratio(on.adapter, on.baseline)),
          ops(r.off),
          ms(r.off, 'p50'),
          ms(r.off, 'p99'),
          ops(r.baseline),
          ms(r.baseline, 'p50'),
          ms(r.baseline, 'p99'),
          times(ratio(r.off, r.baseline)),
        ];
      }),
    ),
    '',
    '### UNLOGGED vs logged (durable namespace)',
    '',
    "The adapter's set (1 KiB, random existing key) into the default namespace (UNLOGGED `entries`, no WAL) vs into a `durable: true` namespace (logged `durable_entries`, same shape). Ratio = default ÷ durable: what crash safety costs a write. A logged commit waits for its WAL flush (synchronous_commit on); concurrent commits share flushes, so the gap is widest at c=1.",
    '',
    ...table(
      ['op', 'c', 'default (UNLOGGED) ops/s', 'p50 ms', 'p99 ms', 'durable (logged) ops/s', 'p50 ms', 'p99 ms', 'ratio default/durable'],
      results.postgres.durability.map((r) => [
        'set',
        String(r.concurrency),
        ops(r.unlogged),
        ms(r.unlogged, 'p50'),
        ms(r.unlogged, 'p99'),
        ops(r.logged),
        ms(r.logged, 'p50'),
        ms(r.logged, 'p99'),
        times(ratio(r.unlogged, r.logged)),
      ]),
    ),
    '',
    '## Redis adapter vs baseline B (raw ioredis)',
    '',
    ...portTable(results.redis.rows),
    '',
    `## Postgres pool size sweep (get, c=${top}; adapter and baseline A at the same pool size)`,
    '',
    ...table(
      ['poolMax', 'adapter ops/s', 'p50 ms', 'p99 ms', 'baseline A ops/s', 'p50 ms', 'p99 ms', 'ratio'],
      results.postgres.sweep.map((r) => [
        String(r.poolMax),
        ops(r.adapter),
        ms(r.adapter, 'p50'),
        ms(r.adapter, 'p99'),
        ops(r.baseline),
        ms(r.baseline, 'p50'),
        ms(r.baseline, 'p99'),
        times(ratio(r.adapter, r.baseline)),
      ]),
    ),
    '',
    '## HTTP GET of a cached 1 KiB entry (autocannon, keep-alive connections)',
    '',
  ];

  const httpRows: string[][] = [];
  for (const connections of settings.httpConnections) {
    const base = results.http.rows.find((r) => r.target === 'bare-hono' && r.connections === connections)?.outcome;
    for (const target of HTTP_TARGETS) {
      const row = results.http.rows.find((r) => r.target === target && r.connections === connections);
      if (row === undefined) continue;
      httpRows.push([
        HTTP_LABELS[target],
        String(connections),
        ops(row.outcome),
        ms(row.outcome, 'p50'),
        ms(row.outcome, 'p99'),
        target === 'bare-hono' ? '1.00×' : times(ratio(row.outcome, base)),
      ]);
    }
  }
  lines.push(...table(['server', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'ratio vs C'], httpRows), '');
  lines.push(...wrkSection(results));
  lines.push(...wrkMpSection(results));

  lines.push(...cacheLayerSection(results));
  lines.push('## Cleanup worker (bench/cleanup.ts)', '');
  const cleanup = results.cleanup;
  if (cleanup.status !== 'ok') {
    lines.push(`${cleanup.status}: ${cleanup.reason}`, '');
  } else {
    lines.push(
      `Standalone script, run ${cleanup.runs.length}× as a child process; every run's own output follows (no selection).${cleanup.note === undefined ? '' : ` Note: ${cleanup.note}.`}`,
      '',
    );
    cleanup.runs.forEach((run, i) =>
      lines.push(`**Run ${i + 1}** (${run.seconds} s)`, '', run.output.replace(/^#+ (.*)$/gm, '_$1_').trim(), ''),
    );
  }

  const why = reasons(results);
  const notes = results.notes.map((n) => `- ${n}`);
  if (why.length > 0 || notes.length > 0) lines.push('## Notes', '', ...notes, ...why, '');
  return lines.join('\n');
}
