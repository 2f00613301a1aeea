/**
 * The blocking readers of Redis channels: XREAD BLOCK on connections of their
 * own (never the port's command connection, which a blocked command would
 * stall). An XREAD reply only wakes the hub, which reads the channel with
 * the gap-aware read script (channels.ts); the reader then blocks again after
 * the newest id it saw.
 *
 * On a single Redis one reader serves every subscribed channel (one XREAD
 * over all their streams); when the set of channels changes while it is
 * blocked, CLIENT UNBLOCK (sent on the command connection) makes it start over
 * with the new set. On a Redis Cluster the streams of different channels live
 * in different slots, which one XREAD cannot span, so each channel gets its
 * own reader on the master owning its slot (found from the client's slot map).
 *
 * A reader whose connection drops (CLIENT KILL, restart, failover, a blocked
 * XREAD that outlives its bound) is reopened with backoff (ReconnectSchedule);
 * once back, its channels are read from their subscribers' cursors, so
 * nothing published meanwhile is missed (or `gap` says what was).
 */
import { Cluster, Redis } from 'ioredis';
import type { ChannelHub } from '../../core/channel-hub.js';
import { STREAM_IDS } from '../../core/channel-ids.js';
import { ReconnectSchedule, type BackoffRange } from '../../core/reconnect-schedule.js';
import { withTimeout } from '../../core/timeout.js';
import type { RedisClient } from './connection.js';
import { keySlot } from './key-slot.js';

/** How long one XREAD blocks; a reply or this timeout starts the next. */
const BLOCK_MS = 5000;
/** The key of the single reader on a single Redis. */
const SINGLE = 'single';

export interface ChannelReaderOptions {
  redis: RedisClient;
  prefix: string;
  hub: ChannelHub;
  /** The stream key of a channel. */
  streamKey(channel: string): string;
  timeoutMs: number;
  backoffMs?: BackoffRange;
}

/** `cacheport-channels:<prefix>`: how an operator (or a test) finds the readers. */
export function channelReaderName(prefix: string): string {
  return `cacheport-channels:${prefix}`.replace(/[^\x21-\x7e]/g, '_');
}

interface Reader {
  readonly key: string;
  connection: Redis | undefined;
  /** CLIENT ID of the connection, for CLIENT UNBLOCK. */
  clientId: number | undefined;
  /** Newest id each channel's XREAD returned. */
  readonly seen: Map<string, string>;
  blocked: boolean;
  stopped: boolean;
  readonly retries: ReconnectSchedule;
}

export class ChannelReaders {
  private readonly readers = new Map<string, Reader>();
  private closed = false;

  constructor(private readonly options: ChannelReaderOptions) {}

  /** Starts a reader for every subscribed channel without one, stops those left without channels. */
  sync(): void {
    if (this.closed) return;
    const wanted = new Set(this.options.hub.channelNames().map((c) => this.readerKeyOf(c)));
    for (const key of wanted) {
      const reader = this.readers.get(key);
      if (reader === undefined) this.start(key);
      else this.unblock(reader);
    }
    for (const [key, reader] of this.readers) {
      if (!wanted.has(key)) this.stop(reader);
    }
  }

  close(): void {
    this.closed = true;
    for (const reader of [...this.readers.values()]) this.stop(reader);
  }

  private readerKeyOf(channel: string): string {
    return this.options.redis instanceof Cluster ? channel : SINGLE;
  }

  private channelsOf(reader: Reader): string[] {
    return this.options.hub.channelNames().filter((c) => this.readerKeyOf(c) === reader.key);
  }

  private start(key: string): void {
    const reader: Reader = {
      key,
      connection: undefined,
      clientId: undefined,
      seen: new Map(),
      blocked: false,
      stopped: false,
      retries: new ReconnectSchedule(this.options.backoffMs),
    };
    this.readers.set(key, reader);
    void this.run(reader);
  }

  private stop(reader: Reader): void {
    reader.stopped = true;
    reader.retries.cancel();
    this.readers.delete(reader.key);
    reader.connection?.disconnect();
    reader.connection = undefined;
  }

  /** A blocked reader starts over with the current set of channels (single Redis only: cluster readers have one channel each). */
  private unblock(reader: Reader): void {
    if (!reader.blocked || reader.clientId === undefined || this.options.redis instanceof Cluster) return;
    this.options.redis.client('UNBLOCK', reader.clientId).catch(() => {});
  }

  private async run(reader: Reader): Promise<void> {
    try {
      const reconnected = reader.retries.failing;
      await this.connect(reader);
      reader.retries.reset();
      // Back after a loss: what was published meanwhile is read from the subscribers' cursors.
      if (reconnected) for (const channel of this.channelsOf(reader)) this.options.hub.wake(channel);
      await this.loop(reader);
      // No channel left: close it; the next subscribe starts a new reader (sync).
      if (!reader.stopped && this.readers.get(reader.key) === reader) this.stop(reader);
    } catch {
      reader.connection?.disconnect();
      reader.connection = undefined;
      reader.blocked = false;
      if (reader.stopped || this.closed) return;
      // A failover or resharding moves slots: let the cluster client learn the new masters first.
      const { redis } = this.options;
      if (redis instanceof Cluster) redis.refreshSlotsCache();
      reader.retries.schedule(() => {
        if (!reader.stopped && !this.closed) void this.run(reader);
      });
    }
  }

  private async loop(reader: Reader): Promise<void> {
    const { hub } = this.options;
    for (;;) {
      const connection = reader.connection;
      if (reader.stopped || this.closed || connection === undefined) return;
      const channels = this.channelsOf(reader);
      if (channels.length === 0) return;
      // Forget channels nobody reads any more (channels come and go; the reader may live long).
      if (reader.seen.size > channels.length) {
        const live = new Set(channels);
        for (const channel of reader.seen.keys()) if (!live.has(channel)) reader.seen.delete(channel);
      }
      const keys = channels.map((c) => this.options.streamKey(c));
      const ids = channels.map((c) => newest(hub.cursorOf(c), reader.seen.get(c)));
      reader.blocked = true;
      const reply = await withTimeout(
        connection.xread('COUNT', 1, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids),
        BLOCK_MS + this.options.timeoutMs,
        'channel read',
      ).finally(() => {
        reader.blocked = false;
      });
      if (reply === null) continue; // timed out or unblocked
      for (const [key, entries] of reply) {
        const at = keys.indexOf(key);
        const channel = channels[at];
        const last = entries.at(-1)?.[0];
        if (channel === undefined || last === undefined) continue;
        reader.seen.set(channel, last);
        hub.wake(channel);
      }
    }
  }

  private async connect(reader: Reader): Promise<void> {
    const { redis, timeoutMs } = this.options;
    const overrides = {
      lazyConnect: true,
      // Reconnecting is ours: after a loss every channel is read again.
      retryStrategy: () => null,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectionName: channelReaderName(this.options.prefix),
      connectTimeout: Math.max(timeoutMs, 1000),
      // XREAD blocks longer than any command may take; loop() bounds it instead.
      commandTimeout: undefined,
    };
    let connection: Redis;
    if (redis instanceof Cluster) {
      const [host, port] = await masterOf(redis, this.options.streamKey(reader.key), timeoutMs);
      connection = new Redis({ ...redis.options.redisOptions, host, port, ...overrides });
    } else {
      connection = redis.duplicate(overrides);
    }
    connection.on('error', () => {});
    reader.connection = connection;
    await withTimeout(connection.connect(), timeoutMs, 'channel reader connect');
    reader.clientId = Number(await withTimeout(connection.client('ID'), timeoutMs, 'channel reader id'));
    if (reader.stopped || this.closed) throw new Error('stopped');
  }
}

/** The later of two ids (either may be missing; the zero id when both are). */
function newest(a: string | undefined, b: string | undefined): string {
  if (a === undefined) return b ?? STREAM_IDS.zero;
  if (b === undefined) return a;
  return STREAM_IDS.compare(a, b) >= 0 ? a : b;
}

/** The master serving `key`'s slot, from the cluster client's slot map. */
async function masterOf(redis: Cluster, key: string, timeoutMs: number): Promise<[string, number]> {
  if (redis.status !== 'ready') {
    await withTimeout(new Promise((resolve) => redis.once('ready', resolve)), timeoutMs, 'cluster ready');
  }
  const node = redis.slots[keySlot(key)]?.[0];
  if (node === undefined) throw new Error(`no cluster node serves the slot of ${key}`);
  const colon = node.lastIndexOf(':');
  return [node.slice(0, colon), Number(node.slice(colon + 1))];
}
