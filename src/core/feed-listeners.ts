/**
 * The subscribers of one change feed, by namespace: the bookkeeping both
 * adapters' feeds share (their connections differ, their listeners do not).
 */
import { getOrCreate } from './maps.js';
import type { Change, ChangeEvent } from './port.js';

export type FeedListener = (event: ChangeEvent) => void;

export class FeedListeners {
  private readonly byNamespace = new Map<string, Set<FeedListener>>();

  /**
   * Registers `onEvent` for `ns` and returns the registration to pass to
   * `remove` (a wrapper of its own, so one callback subscribed twice is two listeners).
   */
  add(ns: string, onEvent: FeedListener): FeedListener {
    const listener: FeedListener = (event) => callSafely(onEvent, event);
    getOrCreate(this.byNamespace, ns, () => new Set<FeedListener>()).add(listener);
    return listener;
  }

  /** Removes a registration; true when that left `ns` without listeners (the feed may stop listening to it). */
  remove(ns: string, listener: FeedListener): boolean {
    const current = this.byNamespace.get(ns);
    if (current === undefined) return false;
    current.delete(listener);
    if (current.size > 0) return false;
    this.byNamespace.delete(ns);
    return true;
  }

  /** Delivers a change to its namespace's listeners. */
  emit(change: Change): void {
    const set = this.byNamespace.get(change.ns);
    if (set === undefined) return;
    const event: ChangeEvent = { type: 'change', ...change };
    for (const listener of set) listener(event);
  }

  /** Delivers an event to the listeners of `ns` only (e.g. a `down`/`up` for one namespace's stream). */
  emitTo(ns: string, event: ChangeEvent): void {
    for (const listener of this.byNamespace.get(ns) ?? []) listener(event);
  }

  /** Delivers `down` or `up` to every listener. */
  emitAll(event: ChangeEvent): void {
    for (const set of this.byNamespace.values()) for (const listener of set) listener(event);
  }

  /** The namespaces somebody listens to. */
  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  isEmpty(): boolean {
    return this.byNamespace.size === 0;
  }

  clear(): void {
    this.byNamespace.clear();
  }
}

/**
 * One subscriber's callback that throws (or, async, rejects) must neither stop
 * delivery to the others nor escape into the feed connection's handler, where
 * it would be an uncaught exception (or an unhandled rejection) that ends the process.
 */
function callSafely(onEvent: FeedListener, event: ChangeEvent): void {
  try {
    const result: unknown = onEvent(event);
    if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, () => {});
    }
  } catch {
    // The subscriber's own failure.
  }
}
