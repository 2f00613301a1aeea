import { NotImplementedCase } from './closed-loop.js';
import type { Budget } from './budget.js';
import { bestRun, errorMessage, isMostlyErrors, type CaseOutcome, type Measurement } from './measurement.js';

/** One thing to measure; without `run` it is reported as n/a for `naReason`. */
export interface Variant {
  id: string;
  run?: () => Promise<Measurement>;
  naReason?: string;
}

export interface InterleaveContext {
  reps: number;
  budget: Budget;
  log(line: string): void;
}

function describe(m: Measurement): string {
  const errors = m.errors > 0 ? ` errors=${m.errors} (${m.firstError ?? ''})` : '';
  const cpu = m.serverCpuUsPerOp === undefined ? '' : ` server CPU ${m.serverCpuUsPerOp.toFixed(0)} µs/req`;
  return `${Math.round(m.opsPerSec)} ops/s p50=${m.p50.toFixed(2)}ms p99=${m.p99.toFixed(2)}ms${cpu}${errors}`;
}

/**
 * Runs the variants in turn, `reps` rounds (A B A B ...), so a subject and its
 * baseline see the same background load; reports each variant's best run.
 */
export async function measureInterleaved(variants: Variant[], ctx: InterleaveContext): Promise<Map<string, CaseOutcome>> {
  const runs = new Map<string, Measurement[]>();
  const outcomes = new Map<string, CaseOutcome>();
  for (const v of variants) {
    if (v.run === undefined) outcomes.set(v.id, { status: 'n/a', reason: v.naReason ?? 'not available' });
    else runs.set(v.id, []);
  }

  for (let rep = 1; rep <= ctx.reps; rep++) {
    for (const v of variants) {
      if (v.run === undefined || outcomes.has(v.id)) continue;
      if (ctx.budget.exhausted()) {
        // Keep what was measured if at least one run finished.
        const done = runs.get(v.id) ?? [];
        if (done.length === 0) outcomes.set(v.id, { status: 'skipped', reason: ctx.budget.reason() });
        continue;
      }
      try {
        const m = await v.run();
        runs.get(v.id)?.push(m);
        ctx.log(`  ${v.id} run ${rep}/${ctx.reps}: ${describe(m)}`);
      } catch (error) {
        const reason = error instanceof NotImplementedCase ? `not implemented yet (${error.message})` : `failed: ${errorMessage(error)}`;
        outcomes.set(v.id, { status: 'n/a', reason });
        ctx.log(`  ${v.id}: n/a, ${reason}`);
      }
    }
  }

  for (const [id, done] of runs) {
    if (outcomes.has(id)) continue;
    const best = bestRun(done);
    outcomes.set(
      id,
      isMostlyErrors(best) ? { status: 'n/a', reason: `failed: ${best.firstError ?? 'errors'}` } : { status: 'ok', best, runs: done },
    );
  }
  return outcomes;
}
