import { createHistogram } from 'node:perf_hooks';
import { isNotImplemented, errorMessage, type Measurement } from './measurement.js';

/** One call of the operation under test; a fresh random key each time. */
export type Operation = () => Promise<unknown>;

export interface ClosedLoopOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

/** Thrown out of runClosedLoop when the operation is not implemented yet. */
export class NotImplementedCase extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotImplementedCase';
  }
}

interface Phase {
  deadline: number;
  record: boolean;
}

/**
 * Closed loop: `concurrency` async workers, each awaiting its call before
 * starting the next, until the deadline. Warm-up runs the same loop unrecorded.
 * Latency is per call (hrtime), throughput is completed calls / elapsed time.
 */
export async function runClosedLoop(op: Operation, options: ClosedLoopOptions): Promise<Measurement> {
  const histogram = createHistogram();
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  let notImplemented: string | undefined;

  async function worker(phase: Phase): Promise<void> {
    while (performance.now() < phase.deadline && notImplemented === undefined) {
      const start = process.hrtime.bigint();
      try {
        await op();
      } catch (error) {
        if (isNotImplemented(error)) {
          notImplemented = errorMessage(error);
          return;
        }
        if (phase.record) {
          errors += 1;
          firstError ??= errorMessage(error);
        }
        continue;
      }
      if (phase.record) {
        ops += 1;
        // Histogram takes integers ≥ 1; nanoseconds.
        histogram.record(Math.max(1, Number(process.hrtime.bigint() - start)));
      }
    }
  }

  async function phase(durationMs: number, record: boolean): Promise<number> {
    const started = performance.now();
    const current: Phase = { deadline: started + durationMs, record };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < options.concurrency; i++) workers.push(worker(current));
    await Promise.all(workers);
    return performance.now() - started;
  }

  if (options.warmupMs > 0) await phase(options.warmupMs, false);
  if (notImplemented !== undefined) throw new NotImplementedCase(notImplemented);
  const elapsedMs = await phase(options.durationMs, true);
  if (notImplemented !== undefined) throw new NotImplementedCase(notImplemented);

  const nsToMs = (ns: number): number => ns / 1e6;
  return {
    opsPerSec: ops / (elapsedMs / 1000),
    p50: ops > 0 ? nsToMs(histogram.percentile(50)) : 0,
    p99: ops > 0 ? nsToMs(histogram.percentile(99)) : 0,
    ops,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  };
}
