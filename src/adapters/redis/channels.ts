/**
 * Pub/sub channels on Redis: one stream per channel, `prefix:chan:{<channel>}`
 * (its own hash tag: channels spread over a cluster). Message ids are stream
 * ids, ordered within the channel by Redis itself (XADD runs one at a time).
 * Publish is one script (XADD, trims by count and time, PEXPIRE); the stream
 * keeps its last id while it exists, so a gap is recognised until the key
 * lapses a day after the last publish.
 *
 * Subscribers are woken by blocking readers (channel-readers.ts) and read
 * with the read script through the port's command connection
 * (core/channel-hub.ts), which reports gaps.
 */
import {
  CHANNEL_FORGET_AFTER_MS,
  CHANNEL_READ_BATCH,
  channelSettings,
  preparePublish,
  prepareSubscribe,
  type ChannelOptions,
} from '../../core/channels.js';
import { ChannelHub, type ChannelRead, type ChannelSource } from '../../core/channel-hub.js';
import { STREAM_IDS } from '../../core/channel-ids.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { ChannelEvent, ChannelSubscription, JsonValue, PubSub } from '../../core/port.js';
import { ReconnectSchedule, type BackoffRange } from '../../core/reconnect-schedule.js';
import { ChannelReaders } from './channel-readers.js';
import { publishScript, readScript } from './channel-scripts.js';
import type { RedisContext } from './context.js';

export interface RedisPubSubOptions extends ChannelOptions {
  /** REDIS_PREFIX, for the readers' connection name. */
  prefix: string;
  timeoutMs: number;
  /** Reconnect delays of the readers and of failed reads (defaults 100 ms, 5 s). */
  backoffMs?: BackoffRange;
}

export interface RedisPubSub extends PubSub {
  close(): Promise<void>;
}

export function createRedisPubSub(ctx: RedisContext, options: RedisPubSubOptions): RedisPubSub {
  const settings = channelSettings(options);
  const streamKey = (channel: string): string => ctx.sysKey('chan', channel);
  /** The newest id trimmed from the stream (same slot). */
  const goneKey = (channel: string): string => ctx.sysKey('chan', channel, 'gone');
  let closed = false;

  const readStream = (channel: string, after: string) =>
    ctx.run('read channel', () =>
      readScript.call(ctx.redis, {
        keys: { stream: streamKey(channel), gone: goneKey(channel) },
        args: { after, retentionMs: settings.retentionMs, count: CHANNEL_READ_BATCH, maxMessages: settings.maxMessages },
      }),
    );

  const source: ChannelSource = {
    ids: STREAM_IDS,
    async head(channel) {
      return (await readStream(channel, '')).last;
    },
    async read(channel, after): Promise<ChannelRead> {
      const { last, gone, entries } = await readStream(channel, after);
      readRetries.reset();
      const messages = entries.map(([id, json]) => ({ id, data: JSON.parse(json) as JsonValue }));
      const next = entries.length === CHANNEL_READ_BATCH ? (messages.at(-1)?.id ?? null) : null;
      return { last, gone: gone === null || gone === STREAM_IDS.zero ? null : gone, messages, next };
    },
  };

  // A failed read (the command connection is down) is tried again with backoff.
  const readRetries = new ReconnectSchedule(options.backoffMs);
  const hub: ChannelHub = new ChannelHub(source, {
    onReadError: () => {
      if (!closed) readRetries.schedule(() => hub.retryFailed());
    },
    onChannelsChanged: () => readers.sync(),
  });
  const readers = new ChannelReaders({
    redis: ctx.redis,
    prefix: options.prefix,
    hub,
    streamKey,
    timeoutMs: options.timeoutMs,
    backoffMs: options.backoffMs,
  });

  return {
    async publish(channel: string, data: JsonValue): Promise<string> {
      const json = preparePublish(channel, data, settings.maxMessageBytes);
      return ctx.run('publish', () =>
        publishScript.call(ctx.redis, {
          keys: { stream: streamKey(channel), gone: goneKey(channel) },
          args: { json, retentionMs: settings.retentionMs, maxMessages: settings.maxMessages, forgetMs: CHANNEL_FORGET_AFTER_MS },
        }),
      );
    },

    async subscribe(channel: string, onEvent: (event: ChannelEvent) => void, opts?: { fromId?: string }): Promise<ChannelSubscription> {
      const fromId = prepareSubscribe(channel, onEvent, opts, STREAM_IDS);
      if (closed) throw new BackendUnavailableError('the port is closed');
      // The head is read first; the reader then blocks after it, so nothing published later is missed.
      return hub.subscribe(channel, onEvent, fromId);
    },

    async close(): Promise<void> {
      closed = true;
      readRetries.cancel();
      hub.close();
      readers.close();
    },
  };
}
