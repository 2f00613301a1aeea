/** What one closed-loop or autocannon run produces, and how runs are summarised. */
export interface Measurement {
  opsPerSec: number;
  /** ms */
  p50: number;
  /** ms */
  p99: number;
  ops: number;
  errors: number;
  /** First error message seen, if any. */
  firstError?: string;
  /** HTTP runs with wrk: CPU time of the server process per completed request, µs. */
  serverCpuUsPerOp?: number;
}

/**
 * A case's outcome: measured, not available (the port method is not
 * implemented yet, or its setup failed), or skipped (time budget).
 */
export type CaseOutcome =
  | { status: 'ok'; best: Measurement; runs: Measurement[] }
  | { status: 'n/a'; reason: string }
  | { status: 'skipped'; reason: string };

/** The adapter methods still being written throw this message. */
export function isNotImplemented(error: unknown): boolean {
  return error instanceof Error && /not implemented/i.test(error.message);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Best of the runs by throughput (its own latencies alongside). On a shared
 * machine interference only ever slows a run down, so the fastest run is the
 * least disturbed estimate of what the code can do.
 */
export function bestRun(runs: Measurement[]): Measurement {
  let best = runs[0];
  if (best === undefined) throw new Error('bestRun needs at least one run');
  for (const run of runs) if (run.opsPerSec > best.opsPerSec) best = run;
  return best;
}

/** A run where most calls failed says nothing about speed. */
export function isMostlyErrors(m: Measurement): boolean {
  return m.errors > 0 && m.errors >= m.ops;
}

export function ratio(subject: CaseOutcome | undefined, baseline: CaseOutcome | undefined): number | undefined {
  if (subject?.status !== 'ok' || baseline?.status !== 'ok') return undefined;
  if (baseline.best.opsPerSec === 0) return undefined;
  return subject.best.opsPerSec / baseline.best.opsPerSec;
}
