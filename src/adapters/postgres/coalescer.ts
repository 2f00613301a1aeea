/**
 * Request coalescing: concurrent single-key calls merged into one statement.
 *
 * A call arriving while fewer than `maxInFlight` batches are running is sent
 * at once (alone, so a lone caller waits for nothing). Calls arriving while
 * every slot is busy queue up; when a batch returns, the queue goes out as the
 * next batch. Under load, batches grow to about concurrency / maxInFlight
 * items without any timer. With `windowMs` > 0, a call arriving while another
 * batch is in flight waits up to that long for company before taking a free
 * slot; with nothing in flight it is still sent at once.
 *
 * Items with a conflict key (writes) never share a batch with, or overtake, an
 * earlier item of the same key: such an item waits for the earlier batch to
 * return, so per-key order is the order of submission.
 *
 * With an admission (the pool gate), a batch is put together only once it holds
 * a pool slot, and items whose ticket was dropped (their caller timed out) are
 * left out: queued work never runs after its caller got the timeout.
 */
import type { Ticket } from './pool-gate.js';

/** A pool slot for each batch (PoolGate); release is called when the batch settles. */
export interface Admission {
  tryAcquire(): boolean;
  wait(ticket: Ticket): Promise<void>;
  release(): void;
}

export interface CoalescerOptions {
  /** Batches running at once; a call arriving below this is sent at once. */
  maxInFlight: number;
  /** Most items in one batch. */
  maxBatch: number;
  /** How long (ms) a call waits for company while another batch is in flight; 0 = never. */
  windowMs: number;
}

export interface CoalescerStats {
  /** Items submitted. */
  calls: number;
  /** Batches sent (statements; a batch of one is still one statement). */
  batches: number;
}

/** Runs one batch; resolves with one result per item, in item order. */
export type BatchSender<I, O> = (items: I[]) => Promise<O[]>;

interface Waiter<I, O> {
  item: I;
  ticket: Ticket | undefined;
  conflictKey: string | undefined;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export class Coalescer<I, O> {
  private queue: Waiter<I, O>[] = [];
  private inFlight = 0;
  /** Conflict keys of the items in running batches. */
  private readonly busyKeys = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly counts: CoalescerStats = { calls: 0, batches: 0 };
  /** A batch slot is reserved and waits for the admission. */
  private awaitingSlot = false;

  constructor(
    private readonly send: BatchSender<I, O>,
    private readonly options: CoalescerOptions,
    /** Items with equal conflict keys are applied in submission order, never in one batch. */
    private readonly conflictKeyOf?: (item: I) => string,
    private readonly admission?: Admission,
  ) {}

  /** `ticket`: once dropped, the item is left out of every later batch (its promise then never settles). */
  submit(item: I, ticket?: Ticket): Promise<O> {
    this.counts.calls += 1;
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, ticket, conflictKey: this.conflictKeyOf?.(item), resolve, reject });
      this.schedule();
    });
  }

  stats(): CoalescerStats {
    return { ...this.counts };
  }

  private schedule(): void {
    if (this.options.windowMs <= 0 || this.inFlight === 0 || this.queue.length >= this.options.maxBatch) {
      this.drain();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, this.options.windowMs);
  }

  /** Sends queued items while slots are free. */
  private drain(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      if (this.admission !== undefined && !this.admission.tryAcquire()) {
        this.awaitSlot(this.admission);
        return;
      }
      const batch = this.take();
      if (batch.length === 0) {
        // everything queued waits for a running batch of its key (or was dropped)
        this.admission?.release();
        return;
      }
      this.dispatch(batch);
    }
    if (this.queue.length === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Holds one batch slot while waiting for the pool; the batch is put together once admitted. */
  private awaitSlot(admission: Admission): void {
    if (this.awaitingSlot) return;
    this.awaitingSlot = true;
    this.inFlight += 1;
    void admission.wait({ dropped: false }).then(() => {
      this.awaitingSlot = false;
      this.inFlight -= 1;
      const batch = this.take();
      if (batch.length === 0) {
        admission.release();
      } else {
        this.dispatch(batch);
      }
      this.drain();
    });
  }

  /** The next batch: queued items in order, skipping those whose key is busy or already taken. */
  private take(): Waiter<I, O>[] {
    const max = this.options.maxBatch;
    // Items whose caller already timed out leave the queue unsent.
    if (this.queue.some((w) => w.ticket?.dropped === true)) this.queue = this.queue.filter((w) => w.ticket?.dropped !== true);
    if (this.conflictKeyOf === undefined) return this.queue.splice(0, max);
    const batch: Waiter<I, O>[] = [];
    const rest: Waiter<I, O>[] = [];
    const taken = new Set<string>();
    for (const waiter of this.queue) {
      const key = waiter.conflictKey as string;
      if (batch.length < max && !taken.has(key) && !this.busyKeys.has(key)) {
        batch.push(waiter);
      } else {
        rest.push(waiter);
      }
      // A skipped key stays blocked for the rest of this batch, so later items of it cannot jump ahead.
      taken.add(key);
    }
    this.queue = rest;
    return batch;
  }

  private dispatch(batch: Waiter<I, O>[]): void {
    this.inFlight += 1;
    this.counts.batches += 1;
    for (const waiter of batch) if (waiter.conflictKey !== undefined) this.busyKeys.add(waiter.conflictKey);
    let sent: Promise<O[]>;
    try {
      sent = this.send(batch.map((w) => w.item));
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (results) => {
        this.finish(batch);
        batch.forEach((waiter, i) => waiter.resolve(results[i] as O));
      },
      (error: unknown) => {
        this.finish(batch);
        // Every caller of a failed batch gets the failure (each maps it to its own typed error).
        for (const waiter of batch) waiter.reject(error);
      },
    );
  }

  private finish(batch: Waiter<I, O>[]): void {
    this.inFlight -= 1;
    this.admission?.release();
    for (const waiter of batch) if (waiter.conflictKey !== undefined) this.busyKeys.delete(waiter.conflictKey);
    this.drain();
  }
}
