/**
 * The whole run's time limit, plus Ctrl-C: once either trips, remaining cases
 * are reported as skipped and the run goes straight to cleanup.
 */
export interface Budget {
  remainingMs(): number;
  exhausted(): boolean;
  abort(reason: string): void;
  reason(): string;
}

export function createBudget(limitMs: number): Budget {
  const deadline = performance.now() + limitMs;
  let aborted: string | undefined;
  return {
    remainingMs: () => Math.max(0, deadline - performance.now()),
    exhausted: () => aborted !== undefined || performance.now() >= deadline,
    abort(reason) {
      aborted ??= reason;
    },
    reason: () => aborted ?? `time budget of ${Math.round(limitMs / 1000)} s used up`,
  };
}
