/**
 * When a change feed retries its connection: exponential backoff between a
 * first and a largest delay, restarted by a success. Shared by both adapters' feeds.
 */

export interface BackoffRange {
  min: number;
  max: number;
}

const DEFAULT_BACKOFF: BackoffRange = { min: 100, max: 5000 };

export class ReconnectSchedule {
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly range: BackoffRange = DEFAULT_BACKOFF) {}

  /** True once an attempt has failed and no connection succeeded since (the feed is coming back from down). */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** A connection succeeded, or nobody waits for one: the next failure starts at the first delay. */
  reset(): void {
    this.failures = 0;
  }

  /** Counts one failure and runs `retry` after the delay it earns (replacing a retry already pending). */
  schedule(retry: () => void): void {
    this.failures++;
    const { min, max } = this.range;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures - 1, 16));
    clearTimeout(this.timer);
    this.timer = setTimeout(retry, delay);
    this.timer.unref();
  }

  /** Drops the pending retry, if any. */
  cancel(): void {
    clearTimeout(this.timer);
  }
}
