/**
 * Multi-process mode with wrk (issue 18): cacheport GET of a cached 1 KiB
 * entry on Postgres, `npm start` with WEB_CONCURRENCY=1 and =2, wrk pinned to
 * CPU 0 with taskset. Two placements of the server:
 * - pinned: the server (primary and every worker it forks) on CPU 1 only, so
 *   both settings have the same single core and the factor shows what a second
 *   process costs or gains on it;
 * - unpinned: the server may use both cores (it shares CPU 0 with wrk and
 *   Postgres), the only way a second process can get a core of its own here.
 * Server CPU per request sums the primary and its workers (/proc/<pid>/stat).
 * Skipped with a note without wrk, taskset or two CPUs.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { startMainServer, type ChildServer } from '../http/child-server.js';
import { createPostgresAdapter } from '../lib/adapters.js';
import { measureInterleaved, type InterleaveContext, type Variant } from '../lib/interleave.js';
import { errorMessage, type CaseOutcome, type Measurement } from '../lib/measurement.js';
import type { BenchSettings } from '../lib/settings.js';
import { createWorkload } from '../lib/workload.js';
import { canReadProcessCpu, childPids, processCpuUs, processTreeCpuUs } from '../wrk/process-cpu.js';
import { findWrk, runWrk } from '../wrk/wrk.js';
import type { PathPlan } from '../wrk/lua.js';
import { appEnv, checkServes } from './http.js';
import { KEY_PREFIX, keyedPlan, populatePort } from './wrk.js';

export const WRK_MP_PROCESSES = [1, 2] as const;
export const WRK_MP_PLACEMENTS = ['pinned', 'unpinned'] as const;
export type WrkMpPlacement = (typeof WRK_MP_PLACEMENTS)[number];

/** wrk's CPU, and the server's when pinned. */
const WRK_CPU = '0';
const SERVER_CPU = '1';
/** The issue asks for 64 connections. */
const CONNECTIONS = 64;

export interface WrkMpRow {
  processes: (typeof WRK_MP_PROCESSES)[number];
  placement: WrkMpPlacement;
  connections: number;
  outcome: CaseOutcome;
}

export interface WrkMpResults {
  rows: WrkMpRow[];
  notes: string[];
}

function hasTaskset(): boolean {
  return spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).status === 0;
}

const caseId = (processes: number, placement: WrkMpPlacement): string => `wrk-mp postgres WEB_CONCURRENCY=${processes} ${placement}`;

function allRows(outcome: CaseOutcome): WrkMpRow[] {
  return WRK_MP_PLACEMENTS.flatMap((placement) =>
    WRK_MP_PROCESSES.map((processes) => ({ processes, placement, connections: CONNECTIONS, outcome })),
  );
}

/** A server started for one case, with the pids whose CPU time is summed (primary + workers). */
interface Started {
  server: ChildServer;
  pid: number;
  workers: number[];
}

async function startCase(settings: BenchSettings, processes: number, placement: WrkMpPlacement, probe: string): Promise<Started> {
  const server = await startMainServer(
    { ...appEnv(settings, 'postgres'), WEB_CONCURRENCY: String(processes) },
    placement === 'pinned' ? { cpuList: SERVER_CPU } : {},
  );
  try {
    const pid = server.pid;
    if (pid === undefined || !(await canReadProcessCpu(pid))) throw new Error('cannot read the server process CPU time from /proc');
    // Multi-process: the primary serves nothing; its forked workers do. With 1 there is no cluster (no children).
    const workers = processes > 1 ? await childPids(pid) : [];
    if (processes > 1 && workers.length !== processes) throw new Error(`expected ${processes} workers, found ${workers.length}`);
    const problem = await checkServes(`${server.url}${probe}`, settings.valueBytes);
    if (problem !== undefined) throw new Error(problem);
    return { server, pid, workers };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function measure(
  binary: string,
  settings: BenchSettings,
  started: Started,
  plan: PathPlan,
  log: (line: string) => void,
): Promise<Measurement> {
  const run = (durationMs: number) =>
    runWrk({
      binary,
      origin: started.server.url,
      plan,
      connections: CONNECTIONS,
      threads: settings.wrkThreads,
      durationMs,
      cpuList: WRK_CPU,
    });
  await run(settings.wrkWarmupMs);
  const before = await processTreeCpuUs(started.pid, started.workers);
  const primaryBefore = await processCpuUs(started.pid);
  const m = await run(settings.wrkDurationMs);
  const cpuUs = (await processTreeCpuUs(started.pid, started.workers)) - before;
  if (started.workers.length > 0 && m.ops > 0) {
    // Where the CPU went: a primary that only supervises should show ~0 here.
    const primaryUs = (await processCpuUs(started.pid)) - primaryBefore;
    log(
      `    WEB_CONCURRENCY=${started.workers.length}: primary ${(primaryUs / m.ops).toFixed(1)} µs/req, workers ${((cpuUs - primaryUs) / m.ops).toFixed(1)} µs/req`,
    );
  }
  return m.ops > 0 ? { ...m, serverCpuUsPerOp: cpuUs / m.ops } : m;
}

export async function runWrkMpSection(settings: BenchSettings, ctx: InterleaveContext): Promise<WrkMpResults> {
  const binary = findWrk();
  const unavailable =
    binary === undefined
      ? 'wrk is not installed (Debian package `wrk`)'
      : !hasTaskset()
        ? 'taskset is not installed (Debian package `util-linux`)'
        : availableParallelism() < 2
          ? 'fewer than 2 CPUs: wrk and the server cannot have a core each'
          : undefined;
  if (unavailable !== undefined || binary === undefined) {
    const reason = unavailable ?? 'wrk is not installed';
    return { rows: allRows({ status: 'n/a', reason }), notes: [`Multi-process wrk section skipped: ${reason}.`] };
  }
  if (ctx.budget.exhausted()) return { rows: allRows({ status: 'skipped', reason: ctx.budget.reason() }), notes: [] };

  const ns = `${settings.ns}-wrk-mp`;
  const w = createWorkload(settings.wrkKeyCount, settings.valueBytes);
  ctx.log(`[wrk-mp] populating ${w.keyCount.toLocaleString('en-US')} keys of ${w.value.length} B in ${ns} (Postgres)`);
  await runMigrations(settings.pgUrl, settings.schema);
  const populated = await populatePort(await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax: 4 }), ns, w);
  if (populated !== undefined) return { rows: allRows({ status: 'n/a', reason: populated }), notes: [] };

  const plan = keyedPlan(settings, w, `/v1/cache/${ns}/${KEY_PREFIX}`, '')('uniform');
  const probe = `/v1/cache/${ns}/${w.key(0)}`;
  const rows: WrkMpRow[] = [];
  // One server at a time (a second cluster idling beside the measured one would skew the pinned core).
  for (const placement of WRK_MP_PLACEMENTS) {
    const outcomes = new Map<string, CaseOutcome>();
    // Interleave 1 and 2 (reps rounds): start each server for its run and stop it after.
    const variants: Variant[] = WRK_MP_PROCESSES.map((processes) => ({
      id: caseId(processes, placement),
      run: async () => {
        const started = await startCase(settings, processes, placement, probe);
        try {
          return await measure(binary, settings, started, plan, ctx.log);
        } finally {
          await started.server.stop();
        }
      },
    }));
    ctx.log(`[wrk-mp] ${placement}: WEB_CONCURRENCY=1 vs 2, ${CONNECTIONS} connections, wrk on CPU ${WRK_CPU}`);
    try {
      for (const [id, outcome] of await measureInterleaved(variants, ctx)) outcomes.set(id, outcome);
    } catch (error) {
      const reason = `failed: ${errorMessage(error)}`;
      for (const processes of WRK_MP_PROCESSES) outcomes.set(caseId(processes, placement), { status: 'n/a', reason });
    }
    for (const processes of WRK_MP_PROCESSES) {
      rows.push({
        processes,
        placement,
        connections: CONNECTIONS,
        outcome: outcomes.get(caseId(processes, placement)) ?? { status: 'n/a', reason: 'missing' },
      });
    }
  }
  return {
    rows,
    notes: [
      'Multi-process wrk: per-worker coalescing (keys per batched statement) is not compared: the coalescer counts ' +
        '(coalescingStatsOf) live inside each worker and no endpoint or metric exposes them.',
    ],
  };
}
