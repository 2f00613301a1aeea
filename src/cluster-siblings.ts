/**
 * Read-your-writes across the worker processes of one server (WEB_CONCURRENCY > 1).
 * A write through one worker must be seen at once by the next read of the same
 * server, whichever worker answers it; the change feed alone reaches the other
 * workers only after its delay. So a worker that wrote to a namespace with
 * local caches tells its siblings over the cluster IPC channel, through the
 * primary, and answers the write only once every sibling has dropped its
 * copies (or after SIBLING_WAIT_MS: a sibling that is restarting or stuck
 * must not hold writes up; the feed still reaches it).
 */
import type { Worker } from 'node:cluster';

/** Bound on waiting for the siblings' acknowledgements. */
export const SIBLING_WAIT_MS = 250;
/** Longer key lists are announced as 'all' (dropping a namespace's copies is cheap, large IPC messages are not). */
const MAX_ANNOUNCED_KEYS = 64;

type Keys = string[] | 'all';

/** worker → primary: I changed these keys. */
interface ChangedMessage {
  type: 'cacheport:changed';
  id: number;
  ns: string;
  keys: Keys;
}
/** primary → worker: drop your copies of these keys, then answer `dropped`. */
interface DropMessage {
  type: 'cacheport:drop';
  relay: number;
  ns: string;
  keys: Keys;
}
/** worker → primary. */
interface DroppedMessage {
  type: 'cacheport:dropped';
  relay: number;
}
/** primary → the worker that changed: every sibling has dropped its copies. */
interface DoneMessage {
  type: 'cacheport:changed-done';
  id: number;
}

function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

export interface SiblingChanges {
  /** Tells the other workers that `keys` of `ns` changed; resolves once they dropped their copies (bounded). */
  announce(ns: string, keys: readonly string[] | 'all'): Promise<void>;
  close(): void;
}

/** In a cluster worker: announces this worker's changes and applies the siblings' (`drop`). */
export function joinSiblings(drop: (ns: string, keys: Keys) => void): SiblingChanges {
  const waiting = new Map<number, () => void>();
  let nextId = 0;
  const onMessage = (message: unknown): void => {
    if (isMessage<DropMessage>(message, 'cacheport:drop')) {
      drop(message.ns, message.keys);
      const reply: DroppedMessage = { type: 'cacheport:dropped', relay: message.relay };
      process.send?.(reply);
    } else if (isMessage<DoneMessage>(message, 'cacheport:changed-done')) {
      waiting.get(message.id)?.();
    }
  };
  process.on('message', onMessage);
  return {
    announce(ns, keys) {
      if (process.send === undefined || !process.connected) return Promise.resolve();
      const id = ++nextId;
      const message: ChangedMessage = {
        type: 'cacheport:changed',
        id,
        ns,
        keys: keys === 'all' || keys.length > MAX_ANNOUNCED_KEYS ? 'all' : [...keys],
      };
      return new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        };
        const timer = setTimeout(done, SIBLING_WAIT_MS);
        waiting.set(id, done);
        process.send?.(message, undefined, {}, (error: Error | null) => {
          if (error) done();
        });
      });
    },
    close() {
      process.off('message', onMessage);
      for (const done of [...waiting.values()]) done();
    },
  };
}

/** In the primary: relays each worker's changes to the other listening workers and answers once all have dropped them. */
export class SiblingRelay {
  private nextRelay = 0;
  private readonly relays = new Map<number, { from: Worker; id: number; awaiting: Set<Worker> }>();

  constructor(private readonly listening: () => Iterable<Worker>) {}

  /** Handles `message` from `worker` if it is a sibling message; false otherwise. */
  handle(worker: Worker, message: unknown): boolean {
    if (isMessage<ChangedMessage>(message, 'cacheport:changed')) {
      const others = new Set([...this.listening()].filter((w) => w !== worker && w.isConnected()));
      if (others.size === 0) {
        this.done(worker, message.id);
        return true;
      }
      const relay = ++this.nextRelay;
      this.relays.set(relay, { from: worker, id: message.id, awaiting: others });
      const drop: DropMessage = { type: 'cacheport:drop', relay, ns: message.ns, keys: message.keys };
      for (const other of others) other.send(drop, undefined, (error: Error | null) => error && this.acknowledged(other, relay));
      return true;
    }
    if (isMessage<DroppedMessage>(message, 'cacheport:dropped')) {
      this.acknowledged(worker, message.relay);
      return true;
    }
    return false;
  }

  /** A worker exited: nobody waits for its acknowledgements any more. */
  gone(worker: Worker): void {
    for (const [relay, pending] of this.relays) {
      if (pending.from === worker) this.relays.delete(relay);
      else this.acknowledged(worker, relay);
    }
  }

  private acknowledged(worker: Worker, relay: number): void {
    const pending = this.relays.get(relay);
    if (pending === undefined || !pending.awaiting.delete(worker) || pending.awaiting.size > 0) return;
    this.relays.delete(relay);
    this.done(pending.from, pending.id);
  }

  private done(worker: Worker, id: number): void {
    if (!worker.isConnected()) return;
    const message: DoneMessage = { type: 'cacheport:changed-done', id };
    worker.send(message, undefined, () => {});
  }
}
