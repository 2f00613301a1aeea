/**
 * How a job interval becomes triggers. pg-boss cron has minute granularity,
 * so an interval of at least a minute becomes a cron schedule (stored in the
 * pg-boss schema, fired once per tick across all workers); a shorter one
 * (tests, small deployments that want fast cleanup) is an in-process loop
 * that `send`s with a singletonKey, which the queue's stately policy
 * collapses to one queued job however many workers send.
 */

export type Trigger = { kind: 'cron'; cron: string } | { kind: 'loop'; everyMs: number };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Whole minutes → `*\/m * * * *` (m < 60), whole hours → `0 *\/h * * *`
 * (h < 24), a day or more → daily. A non-whole interval rounds down to the
 * unit. Steps that do not divide 60 (or 24) restart at each hour (day).
 */
export function triggerFor(intervalMs: number): Trigger {
  if (intervalMs < MINUTE) return { kind: 'loop', everyMs: Math.max(100, intervalMs) };
  if (intervalMs < HOUR) {
    const minutes = Math.floor(intervalMs / MINUTE);
    return { kind: 'cron', cron: minutes === 1 ? '* * * * *' : `*/${minutes} * * * *` };
  }
  const hours = Math.floor(intervalMs / HOUR);
  if (hours < 24) return { kind: 'cron', cron: hours === 1 ? '0 * * * *' : `0 */${hours} * * *` };
  return { kind: 'cron', cron: '0 0 * * *' };
}
