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
 * Batching: each server process's coalesced gets (its /metrics, scraped
 * before and after every measured run) give keys per get statement per
 * process; one process is also run at half the connections (right after its
 * 64-connection run, on the same server), the load each of two workers sees.
 * Skipped with a note without wrk, taskset or two CPUs.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { startMainServer, type ChildServer } from '../http/child-server.js';
import { createPostgresAdapter } from '../lib/adapters.js';
import { measureInterleaved, type InterleaveContext, type Variant } from '../lib/interleave.js';
import { bestRun, errorMessage, type CaseOutcome, type Measurement } from '../lib/measurement.js';
import type { BenchSettings } from '../lib/settings.js';
import { createWorkload } from '../lib/workload.js';
import { coalescingDelta, scrapeGetCoalescing, type GetCoalescing } from '../wrk/coalescing-scrape.js';
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
export const WRK_MP_CONNECTIONS = 64;
/** One process at the connections each of two workers gets: the per-process batching baseline. */
export const WRK_MP_HALF_CONNECTIONS = WRK_MP_CONNECTIONS / 2;

/** Keys per coalesced get statement over a case's measured runs (requests ÷ statements, summed over runs). */
export interface WrkMpBatching {
  /** All server processes together. */
  overall: number;
  /** Each process, by worker label ("single" for one process), in label order. */
  perProcess: { worker: string; keysPerStatement: number; requests: number }[];
}

export interface WrkMpRow {
  processes: (typeof WRK_MP_PROCESSES)[number];
  placement: WrkMpPlacement;
  connections: number;
  outcome: CaseOutcome;
  /** Absent in runs from before the coalescing metrics, or when the case failed. */
  batching?: WrkMpBatching;
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
  return WRK_MP_PLACEMENTS.flatMap((placement) => [
    ...WRK_MP_PROCESSES.map((processes) => ({ processes, placement, connections: WRK_MP_CONNECTIONS, outcome })),
    { processes: 1 as const, placement, connections: WRK_MP_HALF_CONNECTIONS, outcome },
  ]);
}

/** Coalesced gets summed per process over a case's measured runs. */
class BatchingTally {
  private readonly byWorker = new Map<string, GetCoalescing>();

  add(delta: Map<string, GetCoalescing>): void {
    for (const [worker, d] of delta) {
      const sum = this.byWorker.get(worker) ?? { requests: 0, statements: 0 };
      sum.requests += d.requests;
      sum.statements += d.statements;
      this.byWorker.set(worker, sum);
    }
  }

  result(): WrkMpBatching | undefined {
    const workers = [...this.byWorker].sort(([a], [b]) => a.localeCompare(b));
    const requests = workers.reduce((n, [, c]) => n + c.requests, 0);
    const statements = workers.reduce((n, [, c]) => n + c.statements, 0);
    if (statements === 0 || workers.some(([, c]) => c.statements === 0)) return undefined;
    return {
      overall: requests / statements,
      perProcess: workers.map(([worker, c]) => ({ worker, keysPerStatement: c.requests / c.statements, requests: c.requests })),
    };
  }
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

/** One measured wrk run at `connections`, with the server's CPU per request and each process's coalesced gets. */
async function measureRun(
  binary: string,
  settings: BenchSettings,
  started: Started,
  plan: PathPlan,
  connections: number,
  batching: BatchingTally,
  log: (line: string) => void,
): Promise<Measurement> {
  const processes = Math.max(1, started.workers.length);
  const before = await processTreeCpuUs(started.pid, started.workers);
  const primaryBefore = await processCpuUs(started.pid);
  const coalescedBefore = await scrapeGetCoalescing(started.server.url, processes);
  const m = await runWrk({
    binary,
    origin: started.server.url,
    plan,
    connections,
    threads: settings.wrkThreads,
    durationMs: settings.wrkDurationMs,
    cpuList: WRK_CPU,
  });
  const cpuUs = (await processTreeCpuUs(started.pid, started.workers)) - before;
  const primaryUs = (await processCpuUs(started.pid)) - primaryBefore;
  // After the CPU reading: the scrapes' own CPU is not the run's.
  const delta = coalescingDelta(coalescedBefore, await scrapeGetCoalescing(started.server.url, processes));
  batching.add(delta);
  const perProcess = [...delta].map(([w, d]) => `${w} ${d.statements > 0 ? (d.requests / d.statements).toFixed(1) : '-'}`).join(', ');
  const cpuSplit =
    started.workers.length > 0 && m.ops > 0
      ? // Where the CPU went: a primary that only supervises should show ~0 here.
        `primary ${(primaryUs / m.ops).toFixed(1)} µs/req, workers ${((cpuUs - primaryUs) / m.ops).toFixed(1)} µs/req; `
      : '';
  log(`    WEB_CONCURRENCY=${processes} c=${connections}: ${cpuSplit}keys per get statement: ${perProcess}`);
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
    const batching = new Map<string, BatchingTally>();
    const tally = (id: string): BatchingTally => {
      const found = batching.get(id) ?? new BatchingTally();
      batching.set(id, found);
      return found;
    };
    const halfId = `${caseId(1, placement)} c=${WRK_MP_HALF_CONNECTIONS}`;
    const halfRuns: Measurement[] = [];
    // Interleave 1 and 2 (reps rounds): start each server for its run and stop it after.
    const variants: Variant[] = WRK_MP_PROCESSES.map((processes) => ({
      id: caseId(processes, placement),
      run: async () => {
        const started = await startCase(settings, processes, placement, probe);
        try {
          await runWrk({
            binary,
            origin: started.server.url,
            plan,
            connections: WRK_MP_CONNECTIONS,
            threads: settings.wrkThreads,
            durationMs: settings.wrkWarmupMs,
            cpuList: WRK_CPU,
          });
          const id = caseId(processes, placement);
          const m = await measureRun(binary, settings, started, plan, WRK_MP_CONNECTIONS, tally(id), ctx.log);
          // One process at half the connections: what each of two workers sees (already warm).
          if (processes === 1)
            halfRuns.push(await measureRun(binary, settings, started, plan, WRK_MP_HALF_CONNECTIONS, tally(halfId), ctx.log));
          return m;
        } finally {
          await started.server.stop();
        }
      },
    }));
    ctx.log(
      `[wrk-mp] ${placement}: WEB_CONCURRENCY=1 vs 2, ${WRK_MP_CONNECTIONS} connections (1 also at ${WRK_MP_HALF_CONNECTIONS}), wrk on CPU ${WRK_CPU}`,
    );
    try {
      for (const [id, outcome] of await measureInterleaved(variants, ctx)) outcomes.set(id, outcome);
    } catch (error) {
      const reason = `failed: ${errorMessage(error)}`;
      for (const processes of WRK_MP_PROCESSES) outcomes.set(caseId(processes, placement), { status: 'n/a', reason });
    }
    for (const processes of WRK_MP_PROCESSES) {
      const id = caseId(processes, placement);
      const outcome = outcomes.get(id) ?? { status: 'n/a', reason: 'missing' };
      rows.push({
        processes,
        placement,
        connections: WRK_MP_CONNECTIONS,
        outcome,
        batching: outcome.status === 'ok' ? batching.get(id)?.result() : undefined,
      });
    }
    const one = outcomes.get(caseId(1, placement));
    rows.push({
      processes: 1,
      placement,
      connections: WRK_MP_HALF_CONNECTIONS,
      outcome:
        halfRuns.length > 0 ? { status: 'ok', best: bestRun(halfRuns), runs: halfRuns } : (one ?? { status: 'n/a', reason: 'missing' }),
      batching: halfRuns.length > 0 ? batching.get(halfId)?.result() : undefined,
    });
  }
  return { rows, notes: [] };
}
