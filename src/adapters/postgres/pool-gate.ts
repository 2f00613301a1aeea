/**
 * Admission to the connection pool, so that work waiting for a connection is
 * ours to drop. postgres.js never refuses a query: with every connection busy it
 * pipelines it onto one (written to the socket, so it runs later) or queues it,
 * and neither can be taken back reliably. The gate lets at most `capacity`
 * calls hold the pool at once; the others wait here, and a waiter whose time
 * runs out leaves the queue without ever sending its statement.
 */

/** One caller's claim; `dropped` once its deadline passed (the caller already got its timeout). */
export interface Ticket {
  dropped: boolean;
}

/** Gives the slot back; call exactly once. */
export type Release = () => void;

export class PoolGate {
  private free: number;
  private readonly waiting: { ticket: Ticket; admit: () => void }[] = [];

  constructor(readonly capacity: number) {
    this.free = Math.max(1, capacity);
  }

  /** A slot at once, or false (then use wait). */
  tryAcquire(): boolean {
    if (this.free === 0 || this.waiting.length > 0) return false;
    this.free -= 1;
    return true;
  }

  /** Resolves when a slot is this ticket's; never resolves for a ticket dropped while waiting. */
  wait(ticket: Ticket): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((admit) => this.waiting.push({ ticket, admit }));
  }

  /** Removes a dropped ticket from the queue (release would skip it anyway; this frees it early). */
  forget(ticket: Ticket): void {
    const i = this.waiting.findIndex((w) => w.ticket === ticket);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  release(): void {
    let next = this.waiting.shift();
    while (next?.ticket.dropped) next = this.waiting.shift();
    if (next === undefined) {
      this.free += 1;
      return;
    }
    next.admit();
  }

  /** Callers waiting for a slot (for tests). */
  queued(): number {
    return this.waiting.length;
  }
}
