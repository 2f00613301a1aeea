/**
 * The CachePort cases of one backend: every op at every concurrency, adapter
 * and its raw baseline interleaved.
 */
import type { CachePort } from '../../src/core/port.js';
import type { BaselineOp } from '../baselines/raw-postgres.js';
import { runClosedLoop } from '../lib/closed-loop.js';
import { measureInterleaved, type InterleaveContext, type Variant } from '../lib/interleave.js';
import type { CaseOutcome } from '../lib/measurement.js';
import { PORT_OPS, READ_OPS, portOperation, type PortOpName } from '../lib/port-ops.js';
import type { BenchSettings } from '../lib/settings.js';
import type { Workload } from '../lib/workload.js';

export type BackendName = 'postgres' | 'redis';

export interface PortRow {
  backend: BackendName;
  op: PortOpName;
  concurrency: number;
  adapter: CaseOutcome;
  baselineLabel: string;
  baseline: CaseOutcome;
}

export interface PortCasesInput {
  backend: BackendName;
  /** Undefined when the adapter could not be created; `adapterNa` says why. */
  port: CachePort | undefined;
  adapterNa?: string;
  /** Set when the read ops would have nothing to read (population failed): why. */
  populateNa?: string;
  baseline: Partial<Record<PortOpName, BaselineOp>>;
  settings: BenchSettings;
  workload: Workload;
  ctx: InterleaveContext;
}

export async function runPortCases(input: PortCasesInput): Promise<PortRow[]> {
  const { backend, port, settings, workload, ctx } = input;
  const rows: PortRow[] = [];
  const baselineOutcomes = new Map<string, CaseOutcome>();

  for (const op of PORT_OPS) {
    for (const concurrency of settings.concurrencies) {
      const loop = { concurrency, warmupMs: settings.warmupMs, durationMs: settings.durationMs };
      const base = input.baseline[op];
      const reused = base?.reuse === undefined ? undefined : baselineOutcomes.get(`${base.reuse}/${concurrency}`);
      const variants: Variant[] = [];
      if (base !== undefined && reused === undefined) {
        variants.push({ id: `${backend} baseline ${base.label} c=${concurrency}`, run: () => runClosedLoop(base.op, loop) });
      }
      const adapterId = `${backend} adapter ${op} c=${concurrency}`;
      const adapterNa = input.adapterNa ?? (READ_OPS.has(op) ? input.populateNa : undefined);
      if (port === undefined || adapterNa !== undefined) {
        variants.push({ id: adapterId, naReason: adapterNa ?? 'adapter not available' });
      } else {
        const call = portOperation(port, op, settings.ns, workload, settings.batchSize);
        variants.push({ id: adapterId, run: () => runClosedLoop(call, loop) });
      }

      ctx.log(`[${backend}] ${op} c=${concurrency}`);
      const outcomes = await measureInterleaved(variants, ctx);
      const baselineOutcome: CaseOutcome =
        reused ??
        (base === undefined
          ? { status: 'n/a', reason: 'no baseline' }
          : (outcomes.get(variants[0]?.id ?? '') ?? { status: 'n/a', reason: 'missing' }));
      baselineOutcomes.set(`${op}/${concurrency}`, baselineOutcome);
      rows.push({
        backend,
        op,
        concurrency,
        adapter: outcomes.get(adapterId) ?? { status: 'n/a', reason: 'missing' },
        baselineLabel: base?.label ?? 'none',
        baseline: baselineOutcome,
      });
    }
  }
  return rows;
}
