/**
 * Pub/sub channels, what both adapters share: input rules, the options, and
 * the subscriber side (ChannelHub) that turns "something was published on
 * this channel" into ordered, gap-aware delivery to every subscription.
 *
 * Each adapter supplies a ChannelSource (how to read a channel after an id,
 * and what is known to be gone) and wakes the hub when a channel may have
 * news (Postgres: NOTIFY; Redis: a blocking XREAD). Every delivery comes
 * from a read, so the same code detects gaps after a replay, after a lost
 * connection, and after a slow read alike.
 */
import { ValidationError } from './errors.js';
import { getOrCreate } from './maps.js';
import type { ChannelEvent, ChannelMessage, ChannelSubscription } from './port.js';
import { serializeJson, validateName } from './validation.js';

/** Default inclusive limit on a message's serialized JSON (UTF-8 bytes). */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024;
/** Default time a message is kept for replay. */
export const DEFAULT_CHANNEL_RETENTION_MS = 60_000;
/** Messages kept per channel at most (older ones are removed first). */
export const DEFAULT_CHANNEL_MAX_MESSAGES = 10_000;
/** How long a backend still remembers an idle channel's last id (for `gap` answers) after its messages are gone. */
export const CHANNEL_FORGET_AFTER_MS = 24 * 60 * 60 * 1000;
/** Messages per read (one round trip); a longer backlog is read in several. */
export const CHANNEL_READ_BATCH = 500;

/** The adapter options of channels (all optional: the defaults above). */
export interface ChannelOptions {
  /** CACHE_MAX_MESSAGE_BYTES: inclusive limit on a message's JSON (default 64 KiB). */
  maxMessageBytes?: number;
  /** CHANNEL_RETENTION in ms (default 60 s). */
  channelRetentionMs?: number;
  /** Messages kept per channel at most (default 10,000). */
  channelMaxMessages?: number;
}

export interface ChannelSettings {
  maxMessageBytes: number;
  retentionMs: number;
  maxMessages: number;
}

export function channelSettings(options: ChannelOptions): ChannelSettings {
  return {
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    retentionMs: options.channelRetentionMs ?? DEFAULT_CHANNEL_RETENTION_MS,
    maxMessages: options.channelMaxMessages ?? DEFAULT_CHANNEL_MAX_MESSAGES,
  };
}

/** Validates a publish: the channel name (lock-name rule) and the data (JSON within the limit); the data serialized. */
export function preparePublish(channel: unknown, data: unknown, maxMessageBytes: number): string {
  validateName(channel, 'channel');
  return serializeJson(data, maxMessageBytes, 'data');
}

/** How one backend spells and orders its message ids. */
export interface ChannelIds {
  /** Before every id. */
  zero: string;
  /** Throws ValidationError for a malformed `fromId`. */
  validate(id: unknown, field: string): asserts id is string;
  compare(a: string, b: string): number;
}

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
}

interface ChannelState {
  readonly subscribers: Set<Subscriber>;
  reading: Promise<void> | undefined;
  again: boolean;
}

export interface ChannelHubEvents {
  /** A read failed: the adapter treats its connection as lost and calls wakeAll once it is back. */
  onReadError(error: unknown): void;
  /** `channel` got its first subscriber / lost its last one. */
  onChannelsChanged?(): void;
}

export class ChannelHub {
  private readonly channels = new Map<string, ChannelState>();
  private closed = false;

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
    let cursor = head ?? ids.zero;
    let gapDue = false;
    if (fromId !== undefined) {
      // An id this channel never issued (unknown channel, or ahead of its last id): as if past retention.
      gapDue = head === null || ids.compare(fromId, head) > 0;
      cursor = gapDue ? ids.zero : fromId;
    }
    const subscriber: Subscriber = { channel, onEvent, cursor, gapDue };
    const state = getOrCreate(this.channels, channel, () => ({ subscribers: new Set<Subscriber>(), reading: undefined, again: false }));
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
    return { unsubscribe };
  }

  /** The channel may have news: read it (joins a read in progress, which then reads once more). */
  wake(channel: string): void {
    if (!this.channels.has(channel)) return;
    this.readChannel(channel).catch((error: unknown) => this.events.onReadError(error));
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
    this.channels.clear();
  }

  private remove(subscriber: Subscriber): void {
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
        } while (state.again && !this.closed && this.channels.get(channel) === state);
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
      for (const subscriber of [...state.subscribers]) this.deliver(subscriber, read);
      if (read.next === null) return;
      after = read.next;
    }
  }

  private deliver(subscriber: Subscriber, read: ChannelRead): void {
    const { compare } = this.source.ids;
    const oldestId = read.messages[0]?.id ?? null;
    if (subscriber.gapDue || (read.gone !== null && compare(subscriber.cursor, read.gone) < 0)) {
      subscriber.gapDue = false;
      if (read.gone !== null && compare(subscriber.cursor, read.gone) < 0) subscriber.cursor = read.gone;
      emit(subscriber, { type: 'gap', oldestId });
    }
    for (const message of read.messages) {
      if (compare(message.id, subscriber.cursor) <= 0) continue;
      subscriber.cursor = message.id;
      emit(subscriber, { type: 'message', id: message.id, data: message.data });
    }
  }
}

/** A subscriber's callback that throws must not stop delivery to the others. */
function emit(subscriber: Subscriber, event: ChannelEvent): void {
  try {
    subscriber.onEvent(event);
  } catch {
    // The subscriber's own failure; nothing the channel can do about it.
  }
}

// ---------------------------------------------------------------- ids

/** Postgres ids: decimal bigint strings. */
export const DECIMAL_IDS: ChannelIds = {
  zero: '0',
  validate(id, field): asserts id is string {
    if (typeof id !== 'string' || !/^(0|[1-9][0-9]{0,18})$/.test(id) || BigInt(id) > 2n ** 63n - 1n) {
      throw new ValidationError({ name: field, reason: 'must be a message id of this channel (a decimal integer)' });
    }
  },
  compare(a, b) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
};

/** Redis stream ids: `<ms>-<seq>`. */
export const STREAM_IDS: ChannelIds = {
  zero: '0-0',
  validate(id, field): asserts id is string {
    if (typeof id !== 'string' || !/^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/.test(id)) {
      throw new ValidationError({ name: field, reason: 'must be a message id of this channel (<ms>-<seq>)' });
    }
    const [ms, seq] = splitStreamId(id);
    if (ms > 2n ** 64n - 1n || seq > 2n ** 64n - 1n) throw new ValidationError({ name: field, reason: 'is out of range' });
  },
  compare(a, b) {
    const [am, as] = splitStreamId(a);
    const [bm, bs] = splitStreamId(b);
    if (am !== bm) return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs ? 1 : 0;
  },
};

function splitStreamId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** Validates subscribe input before any backend call. */
export function prepareSubscribe(channel: unknown, onEvent: unknown, options: unknown, ids: ChannelIds): string | undefined {
  validateName(channel, 'channel');
  if (typeof onEvent !== 'function') throw new ValidationError({ name: 'onEvent', reason: 'must be a function' });
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new ValidationError({ name: 'options', reason: 'must be an object' });
  const { fromId } = options as { fromId?: unknown };
  if (fromId === undefined) return undefined;
  ids.validate(fromId, 'fromId');
  return fromId;
}
