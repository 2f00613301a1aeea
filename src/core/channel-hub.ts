/**
 * The subscriber side of pub/sub channels, shared by both adapters: turns
 * "this channel may have news" into ordered, gap-aware delivery to every
 * subscription. Each adapter supplies a ChannelSource (how to read a channel
 * after an id, and what is known to be gone) and calls `wake` when a channel
 * may have news (Postgres: NOTIFY; Redis: a blocking XREAD). Every delivery
 * comes from a read after the subscriptions' cursors, so the same code
 * detects gaps after a replay, after a lost connection, and after a slow read.
 */
import type { ChannelIds } from './channel-ids.js';
import { BackendUnavailableError } from './errors.js';
import { getOrCreate } from './maps.js';
import type { ChannelEvent, ChannelMessage, ChannelSubscription } from './port.js';

/** What a read of one channel found. */
export interface ChannelRead {
  /** The last id the channel issued; null when the backend does not know the channel (never used, or forgotten). */
  last: string | null;
  /** The newest id known to be gone (removed, or past retention); null when none. */
  gone: string | null;
  /** Held messages after the read's `after`, oldest first. */
  messages: ChannelMessage[];
  /** Read again after this id: the read stopped at its batch size. */
  next: string | null;
}

export interface ChannelSource {
  readonly ids: ChannelIds;
  /** Messages of `channel` after `after` (at most CHANNEL_READ_BATCH), with what is gone. */
  read(channel: string, after: string): Promise<ChannelRead>;
  /** The channel's last id, or null when unknown. */
  head(channel: string): Promise<string | null>;
}

interface Subscriber {
  readonly channel: string;
  readonly onEvent: (event: ChannelEvent) => void;
  /** Delivered through this id. */
  cursor: string;
  /** Report a gap at the next read (fromId the channel never issued). */
  gapDue: boolean;
  /** False once unsubscribed (or the hub closed): nothing more is delivered, not even the rest of a batch. */
  active: boolean;
  /** Events held until subscribe() has resolved, so a callback always has the subscription in hand. */
  held: ChannelEvent[] | undefined;
}

interface ChannelState {
  readonly subscribers: Set<Subscriber>;
  reading: Promise<void> | undefined;
  again: boolean;
  /** A pass stopped before the end of the backlog because a subscription was still being made (see readFromCursors). */
  unread: boolean;
}

export interface ChannelHubEvents {
  /** A read failed: the adapter calls retryFailed later (with backoff), which reads those channels from their cursors. */
  onReadError(error: unknown): void;
  /** `channel` got its first subscriber / lost its last one. */
  onChannelsChanged?(): void;
}

export class ChannelHub {
  private readonly channels = new Map<string, ChannelState>();
  private closed = false;
  /** Channels whose read failed since the last retryFailed. */
  private readonly failed = new Set<string>();

  constructor(
    private readonly source: ChannelSource,
    private readonly events: ChannelHubEvents,
  ) {}

  /**
   * Registers a subscription, then reads the channel once: a replay from
   * `fromId`, or just the head. Resolves once the read is done; rejects (and
   * registers nothing) when it fails.
   */
  async subscribe(channel: string, onEvent: (event: ChannelEvent) => void, fromId: string | undefined): Promise<ChannelSubscription> {
    const { ids } = this.source;
    const head = await this.source.head(channel);
    // close() ran while the head was read: registering now would make a subscription that never delivers.
    if (this.closed) throw new BackendUnavailableError('the port is closed');
    let cursor = head ?? ids.zero;
    let gapDue = false;
    if (fromId !== undefined) {
      // An id this channel never issued (unknown channel, or ahead of its last id): as if past retention.
      gapDue = head === null || ids.compare(fromId, head) > 0;
      cursor = gapDue ? ids.zero : fromId;
    }
    const subscriber: Subscriber = { channel, onEvent, cursor, gapDue, active: true, held: [] };
    const state = getOrCreate(this.channels, channel, () => ({
      subscribers: new Set<Subscriber>(),
      reading: undefined,
      again: false,
      unread: false,
    }));
    const first = state.subscribers.size === 0;
    state.subscribers.add(subscriber);
    if (first) this.events.onChannelsChanged?.();
    const unsubscribe = (): void => this.remove(subscriber);
    try {
      await this.readChannel(channel);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (this.closed) throw new BackendUnavailableError('the port is closed');
    // After the caller's `await` has the subscription: what the first read (the replay) found, then live events,
    // then the rest of a backlog longer than one batch, now delivered as it is read (the caller's own bounds apply).
    setImmediate(() => {
      release(subscriber);
      if (state.unread) {
        state.unread = false;
        this.wake(channel);
      }
    });
    return { unsubscribe };
  }

  /** The channel may have news: read it (joins a read in progress, which then reads once more). */
  wake(channel: string): void {
    if (!this.channels.has(channel)) return;
    this.readChannel(channel).catch((error: unknown) => {
      this.failed.add(channel);
      this.events.onReadError(error);
    });
  }

  /** Reads again only the channels whose last read failed (under overload, re-reading every channel would add to it). */
  retryFailed(): void {
    const channels = [...this.failed];
    this.failed.clear();
    for (const channel of channels) this.wake(channel);
  }

  /** After a reconnect: read every channel from its subscribers' cursors. */
  wakeAll(): void {
    for (const channel of this.channels.keys()) this.wake(channel);
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** The oldest cursor of the channel's subscribers: a live reader reads after it. */
  cursorOf(channel: string): string | undefined {
    const state = this.channels.get(channel);
    if (state === undefined) return undefined;
    let min: string | undefined;
    for (const s of state.subscribers) if (min === undefined || this.source.ids.compare(s.cursor, min) < 0) min = s.cursor;
    return min;
  }

  isEmpty(): boolean {
    return this.channels.size === 0;
  }

  close(): void {
    this.closed = true;
    for (const state of this.channels.values()) for (const subscriber of state.subscribers) subscriber.active = false;
    this.channels.clear();
    this.failed.clear();
  }

  private remove(subscriber: Subscriber): void {
    subscriber.active = false;
    const state = this.channels.get(subscriber.channel);
    if (state === undefined || !state.subscribers.delete(subscriber)) return;
    if (state.subscribers.size === 0) {
      this.channels.delete(subscriber.channel);
      this.events.onChannelsChanged?.();
    }
  }

  private readChannel(channel: string): Promise<void> {
    const state = this.channels.get(channel);
    if (state === undefined) return Promise.resolve();
    if (state.reading !== undefined) {
      state.again = true;
      return state.reading;
    }
    const loop = async (): Promise<void> => {
      try {
        do {
          state.again = false;
          await this.readFromCursors(channel, state);
          // A subscription being made waits for this loop: end it after this pass, so that subscribe() resolves even
          // while publishes keep waking the channel; the release wakes the channel for the rest.
          if (state.again && holdsAny(state)) state.unread = true;
        } while (state.again && !state.unread && !this.closed && this.channels.get(channel) === state);
      } finally {
        state.reading = undefined;
      }
    };
    state.reading = loop();
    return state.reading;
  }

  /** Reads after the oldest cursor until the backlog is read, delivering each batch. */
  private async readFromCursors(channel: string, state: ChannelState): Promise<void> {
    let after = this.cursorOf(channel);
    while (after !== undefined && !this.closed) {
      const read = await this.source.read(channel, after);
      if (this.closed) return;
      for (const subscriber of [...state.subscribers]) {
        // It joined after this pass started, behind where the pass reads: another pass starts from its cursor.
        if (this.source.ids.compare(subscriber.cursor, after) < 0) state.again = true;
        else this.deliver(subscriber, read);
      }
      if (read.next === null) return;
      // A subscription being made holds what it is given until subscribe() resolves: it would hold the whole
      // backlog (up to the retention bound) and answer only after reading all of it. Stop after this batch;
      // subscribe() wakes the channel once it is released.
      if (holdsAny(state)) {
        state.unread = true;
        return;
      }
      after = read.next;
    }
  }

  private deliver(subscriber: Subscriber, read: ChannelRead): void {
    if (!subscriber.active) return;
    const { compare, zero } = this.source.ids;
    // The backend no longer knows a channel this subscriber has read (a crash emptied it, or it was
    // forgotten): whatever followed the cursor may be lost; start over from the beginning.
    if (read.last === null && compare(subscriber.cursor, zero) > 0) {
      subscriber.cursor = zero;
      subscriber.gapDue = true;
    }
    const oldestId = read.messages[0]?.id ?? null;
    if (subscriber.gapDue || (read.gone !== null && compare(subscriber.cursor, read.gone) < 0)) {
      subscriber.gapDue = false;
      if (read.gone !== null && compare(subscriber.cursor, read.gone) < 0) subscriber.cursor = read.gone;
      emit(subscriber, { type: 'gap', oldestId });
    }
    for (const message of read.messages) {
      // A callback may unsubscribe (this or another subscription) in the middle of a batch.
      if (!subscriber.active) return;
      if (compare(message.id, subscriber.cursor) <= 0) continue;
      subscriber.cursor = message.id;
      emit(subscriber, { type: 'message', id: message.id, data: message.data });
    }
  }
}

/** Some subscription of the channel is still being made (holds its events until subscribe() resolves). */
function holdsAny(state: ChannelState): boolean {
  for (const subscriber of state.subscribers) if (subscriber.held !== undefined) return true;
  return false;
}

function emit(subscriber: Subscriber, event: ChannelEvent): void {
  if (subscriber.held !== undefined) subscriber.held.push(event);
  else call(subscriber, event);
}

/** Delivers the events held while subscribing, in order, then lets later ones through directly. */
function release(subscriber: Subscriber): void {
  const held = subscriber.held ?? [];
  for (let i = 0; i < held.length && subscriber.active; i++) call(subscriber, held[i] as ChannelEvent);
  subscriber.held = undefined;
}

/**
 * A subscriber's callback that throws must not stop delivery to the others; an async one that rejects must not
 * become an unhandled rejection (which ends a Node process).
 */
function call(subscriber: Subscriber, event: ChannelEvent): void {
  if (!subscriber.active) return;
  try {
    const result: unknown = subscriber.onEvent(event);
    if (isThenable(result)) result.then(undefined, () => {});
  } catch {
    // The subscriber's own failure; nothing the channel can do about it.
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
