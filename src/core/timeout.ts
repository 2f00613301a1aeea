import { BackendTimeoutError } from './errors.js';

/**
 * Bounds how long a caller waits for the backend. The underlying query may
 * still finish later; the caller gets a BackendTimeoutError at the deadline.
 * `onExpire` runs at that moment, so the caller's queued work can be dropped
 * (work already sent to the backend cannot be taken back).
 *
 * Hot path: a timer per call costs more than a fast backend round trip, and
 * calls with the same timeout reach their deadlines in the order they
 * started. So each distinct timeout keeps a FIFO of pending calls and one
 * timer armed for the oldest; settled calls leave the head as they finish.
 */
interface Pending {
  deadline: number;
  settled: boolean;
  expire: () => void;
}

class DeadlineQueue {
  private items: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  add(item: Pending): void {
    this.items.push(item);
    if (this.timer === undefined) this.arm();
  }

  /** Drops settled calls from the front; called when any call settles. */
  compact(): void {
    while (this.head < this.items.length && (this.items[this.head] as Pending).settled) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(): void {
    const first = this.items[this.head];
    if (first === undefined) return;
    this.timer = setTimeout(() => this.fire(), Math.max(0, first.deadline - performance.now()));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.items.length) {
      const item = this.items[this.head] as Pending;
      if (!item.settled && item.deadline > now) break;
      this.head++;
      if (!item.settled) item.expire();
    }
    this.compact();
    if (this.head < this.items.length && this.timer === undefined) this.arm();
  }
}

const queues = new Map<number, DeadlineQueue>();

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string, onExpire?: () => void): Promise<T> {
  let queue = queues.get(timeoutMs);
  if (queue === undefined) {
    queue = new DeadlineQueue();
    queues.set(timeoutMs, queue);
  }
  const q = queue;
  return new Promise<T>((resolve, reject) => {
    const item: Pending = {
      deadline: performance.now() + timeoutMs,
      settled: false,
      expire: () => {
        item.settled = true;
        onExpire?.();
        reject(new BackendTimeoutError(timeoutMs, operation));
      },
    };
    q.add(item);
    promise.then(
      (value) => {
        if (item.settled) return;
        item.settled = true;
        q.compact();
        resolve(value);
      },
      (error: unknown) => {
        if (item.settled) return;
        item.settled = true;
        q.compact();
        reject(error);
      },
    );
  });
}
