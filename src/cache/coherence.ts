/**
 * Keeps one cache's local copies coherent through the port's change feed,
 * and wakes getOrSet waiters when their key changes. Subscribes lazily (the
 * first call that needs it) and, when that fails, again at most once a second.
 */
import type { CachePort, ChangeEvent } from '../core/port.js';
import type { LocalCache } from './local-cache.js';
import { getOrCreate } from '../core/maps.js';

const RESUBSCRIBE_AFTER_MS = 1000;
/** Per-key change marks kept before they are folded into one namespace-wide mark. */
const MAX_KEY_MARKS = 10_000;

type State = 'idle' | 'connecting' | 'live' | 'down' | 'closed';

/** The open caches of each (port, namespace) in this process: a change made through one is applied to all at once. */
const sameNamespace = new WeakMap<CachePort, Map<string, Set<Coherence>>>();

export class Coherence {
  private state: State = 'idle';
  private lastAttempt = 0;
  private unsubscribe: (() => void) | undefined;
  private subscribing: Promise<void> | undefined;
  /** Increases with every event; a read may fill the local cache only if nothing concerning its key happened meanwhile. */
  private seq = 0;
  private wideSeq = 0;
  private readonly keySeq = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Writes of this process whose `set` announcement has not arrived yet: their echo must not drop the copy just stored. */
  private readonly ownWrites = new Map<string, number>();
  reconnects = 0;

  constructor(
    private readonly port: CachePort,
    private readonly namespace: string,
    private readonly local: LocalCache | null,
  ) {
    const byNamespace = getOrCreate(sameNamespace, port, () => new Map<string, Set<Coherence>>());
    getOrCreate(byNamespace, namespace, () => new Set<Coherence>()).add(this);
  }

  /** This cache and the other open caches of its namespace on the same port. */
  private peers(): Iterable<Coherence> {
    return sameNamespace.get(this.port)?.get(this.namespace) ?? [this];
  }

  get hasFeed(): boolean {
    return typeof this.port.changes === 'function';
  }

  isLive(): boolean {
    return this.state === 'live';
  }

  /** Starts the subscription if there is none; resolves once it is live or has failed. */
  ensure(): Promise<void> {
    if (!this.hasFeed || this.state === 'live' || this.state === 'closed') return Promise.resolve();
    if (this.subscribing) return this.subscribing;
    if (this.state === 'down' && this.unsubscribe) return Promise.resolve(); // the feed retries by itself
    if (Date.now() - this.lastAttempt < RESUBSCRIBE_AFTER_MS && this.state !== 'idle') return Promise.resolve();
    this.lastAttempt = Date.now();
    this.state = 'connecting';
    this.subscribing = this.port
      .changes(this.namespace, (event) => this.onEvent(event))
      .then((subscription) => {
        if (this.state === 'closed') return subscription.unsubscribe();
        this.unsubscribe = () => subscription.unsubscribe();
        if (this.state === 'connecting') {
          // A read that began before the feed was live may have missed a change announced before it was:
          // it must not fill the local cache (marks taken before now are outdated).
          this.wideSeq = ++this.seq;
          this.keySeq.clear();
          this.state = 'live';
        }
      })
      .catch(() => {
        if (this.state === 'connecting') this.state = 'down';
      })
      .finally(() => {
        this.subscribing = undefined;
      });
    return this.subscribing;
  }

  /** A mark to take before a backend read. */
  mark(): number {
    return this.seq;
  }

  /** True when the feed is live and nothing concerning `key` happened since `mark`. */
  unchangedSince(key: string, mark: number): boolean {
    return this.state === 'live' && this.wideSeq <= mark && (this.keySeq.get(key) ?? 0) <= mark;
  }

  /** Resolves when `key` (or the whole namespace) changes, or after `ms`. */
  waitForChange(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = getOrCreate(this.waiters, key, () => new Set());
      const wake = (): void => {
        clearTimeout(timer);
        const current = this.waiters.get(key);
        current?.delete(wake);
        if (current?.size === 0) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, ms));
      set.add(wake);
    });
  }

  /** This process wrote `key` and stored the value locally: its own `set` announcement is not a reason to drop it. */
  expectOwnWrite(key: string): void {
    if (this.state === 'live') this.ownWrites.set(key, (this.ownWrites.get(key) ?? 0) + 1);
  }

  /** A change made by this process: applied at once, before the feed reports it. */
  touched(keys: string[] | 'all'): void {
    for (const cache of this.peers()) cache.apply(keys);
  }

  /**
   * This process deleted an unknown set of keys (a prefix, tags) and dropped the matching local copies:
   * no read in flight may store what it read before the delete.
   */
  touchedSome(): void {
    // The other caches of the namespace did not drop their matching copies: they drop everything.
    for (const cache of this.peers()) cache.apply('all', cache !== this);
  }

  close(): void {
    sameNamespace.get(this.port)?.get(this.namespace)?.delete(this);
    this.state = 'closed';
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
  }

  private onEvent(event: ChangeEvent): void {
    // A namespace-wide announcement (no key list) may be the echo of our own writes: the echoes they wait for
    // never come, and waiting would take a later foreign write of those keys for one.
    if (event.type !== 'change' || event.keys === undefined) this.ownWrites.clear();
    if (event.type === 'change' && event.op === 'set' && event.keys !== undefined && this.ownWrites.size > 0) {
      // One echo per own write; if another writer's announcement is taken for ours, ours (later) still drops the copy.
      const foreign = event.keys.filter((key) => !this.consumeOwnWrite(key));
      this.apply(foreign);
      return;
    }
    if (event.type === 'down') {
      this.state = 'down';
      // Kept only as outage fallback: changes may be missed from now on.
      this.local?.distrustAll();
      this.apply('all', false);
      return;
    }
    if (event.type === 'up') {
      this.reconnects++;
      this.local?.distrustAll();
      this.apply('all', false);
      this.state = 'live';
      return;
    }
    this.apply(event.keys ?? 'all');
  }

  private consumeOwnWrite(key: string): boolean {
    const pending = this.ownWrites.get(key);
    if (pending === undefined) return false;
    if (pending <= 1) this.ownWrites.delete(key);
    else this.ownWrites.set(key, pending - 1);
    return true;
  }

  private apply(keys: string[] | 'all', drop = true): void {
    this.seq++;
    if (keys === 'all' || this.keySeq.size + keys.length > MAX_KEY_MARKS) {
      this.wideSeq = this.seq;
      this.keySeq.clear();
    }
    if (keys === 'all') {
      if (drop) this.local?.clear();
      for (const set of this.waiters.values()) for (const wake of [...set]) wake();
      return;
    }
    for (const key of keys) {
      if (this.wideSeq !== this.seq) this.keySeq.set(key, this.seq);
      this.local?.delete(key);
      const set = this.waiters.get(key);
      if (set) for (const wake of [...set]) wake();
    }
  }
}
