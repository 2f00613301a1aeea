/**
 * The cleanup-worker case is bench/cleanup.ts (owned by the worker's author):
 * a standalone script that creates and drops its own schema and prints a
 * markdown table. It runs here as a child process, `reps` times, each bounded
 * by the remaining time budget; its output goes into the report as is.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Budget } from '../lib/budget.js';
import type { BenchSettings } from '../lib/settings.js';

/** One pacing's figures from a run: what the Targets table checks (p99 during cleanup ÷ alone ≤ 1.5×). */
export interface CleanupPacingResult {
  pacing: 'unpaced' | 'worker';
  p99Ratio: number;
  rowsPerSecond: number;
}

/** bench/cleanup.ts prints its figures on one line with this prefix, after its table; the report leaves the line out. */
export const CLEANUP_RESULT_PREFIX = 'cleanup-result: ';

export interface CleanupRun {
  seconds: number;
  /** What the script printed on stdout (its markdown table), without the result line. */
  output: string;
  results: CleanupPacingResult[];
}

/** Splits the script's stdout into the table and the figures of its result line. */
function parseRunOutput(stdout: string): { output: string; results: CleanupPacingResult[] } {
  const lines = stdout.trim().split('\n');
  const resultLine = lines.find((line) => line.startsWith(CLEANUP_RESULT_PREFIX));
  const output = lines.filter((line) => line !== resultLine).join('\n');
  const results = resultLine === undefined ? [] : (JSON.parse(resultLine.slice(CLEANUP_RESULT_PREFIX.length)) as CleanupPacingResult[]);
  return { output, results };
}

export type CleanupOutcome = { status: 'ok'; runs: CleanupRun[]; note?: string } | { status: 'n/a' | 'skipped'; reason: string };

const CASE_FILE = fileURLToPath(new URL('../cleanup.ts', import.meta.url));
/** Below this much budget left, a run is not started (a run stopped midway leaves its schema behind). */
const MIN_RUN_MS = { quick: 20_000, full: 90_000 };

function runOnce(
  settings: BenchSettings,
  timeoutMs: number,
): Promise<{ code: number | null; timedOut: boolean; stdout: string; stderr: string; seconds: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CASE_FILE], {
    env: { ...process.env, DATABASE_URL: settings.pgUrl, BENCH_QUICK: settings.quick ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }, timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, stdout, stderr, seconds: Math.round((performance.now() - started) / 100) / 10 });
    });
  });
}

export async function runCleanupCase(
  settings: BenchSettings,
  reps: number,
  budget: Budget,
  log: (line: string) => void,
): Promise<CleanupOutcome> {
  if (!existsSync(CASE_FILE)) return { status: 'n/a', reason: 'bench/cleanup.ts does not exist yet' };
  const runs: CleanupRun[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    if (budget.exhausted() || budget.remainingMs() < (settings.quick ? MIN_RUN_MS.quick : MIN_RUN_MS.full)) break;
    log(`[cleanup] bench/cleanup.ts run ${rep}/${reps} (limit ${Math.round(budget.remainingMs() / 1000)} s)`);
    const result = await runOnce(settings, budget.remainingMs());
    if (result.timedOut) {
      return {
        status: 'n/a',
        reason: `run ${rep} stopped at the time budget (${result.seconds} s); its bench_cleanup_* schema may remain`,
      };
    }
    if (result.code !== 0) {
      return {
        status: 'n/a',
        reason: `run ${rep} exited ${result.code ?? 'by signal'}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      };
    }
    log(`  cleanup run ${rep}/${reps}: ${result.seconds} s`);
    runs.push({ seconds: result.seconds, ...parseRunOutput(result.stdout) });
  }
  if (runs.length === 0) return { status: 'skipped', reason: budget.reason() };
  return runs.length < reps
    ? { status: 'ok', runs, note: `only ${runs.length} of ${reps} runs fitted in the time budget` }
    : { status: 'ok', runs };
}
