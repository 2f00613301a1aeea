/**
 * Pub/sub channels on Postgres (migration 0010): messages in the UNLOGGED
 * `channel_messages` table, one row per channel in `channels`, and a NOTIFY
 * per publish that only wakes subscribers (channel-listener.ts), who then
 * read `id > cursor` (core/channel-hub.ts).
 *
 * Ordering. A subscriber reads `id > last delivered`, so ids must become
 * visible in id order within a channel. A plain identity column does not give
 * that: two transactions may take ids 7 and 8 and commit 8 first, and a
 * reader that saw 8 would skip 7 forever. So publish first locks the
 * channel's row (the upsert into `channels`) and only then takes the id from
 * the sequence; the lock is held until commit, so the next publisher of the
 * channel takes its (larger) id only after this one is visible. Publishers of
 * different channels never wait for each other.
 *
 * Retention. A message is held for `channelRetentionMs` and among the newest
 * 10,000 of its channel. Publish trims its channel's messages
 * past retention in the same statement (one index probe, usually nothing to
 * delete); the worker's cleanup (maintenance.ts trimChannels) removes the
 * rest, including the count bound. Reads treat a message past retention as
 * gone whether or not it was deleted yet, and `channels.trimmed_through`
 * remembers the newest id deleted, so a reader learns of a gap either way.
 */
import { CHANNEL_READ_BATCH, channelSettings, preparePublish, prepareSubscribe, type ChannelOptions } from '../../core/channels.js';
import { ChannelHub, type ChannelRead, type ChannelSource } from '../../core/channel-hub.js';
import { DECIMAL_IDS } from '../../core/channel-ids.js';
import { ReconnectSchedule, type BackoffRange } from '../../core/reconnect-schedule.js';
import type { ChannelEvent, ChannelSubscription, JsonValue, PubSub } from '../../core/port.js';
import { CHANNEL_NOTIFY, PgChannelListener } from './channel-listener.js';
import type { PgContext } from './context.js';

export interface PgPubSubOptions extends ChannelOptions {
  url: string;
  schema: string;
  timeoutMs: number;
  /** The LISTEN connection's heartbeat and reconnect delays (tests shorten them). */
  heartbeatMs?: number;
  backoffMs?: BackoffRange;
}

export interface PgPubSub extends PubSub {
  close(): Promise<void>;
}

interface ReadRow {
  last: string;
  gone: string;
  id: string | null;
  data: JsonValue;
}

export function createPgPubSub(ctx: PgContext, options: PgPubSubOptions): PgPubSub {
  const { sql } = ctx;
  const settings = channelSettings(options);
  const retention = settings.retentionMs;

  const source: ChannelSource = {
    ids: DECIMAL_IDS,
    async head(channel) {
      const rows = await ctx.run(
        'read channel',
        () => sql<{ last: string }[]>`SELECT last_id::text AS last FROM channels WHERE channel = ${channel}`,
      );
      return rows[0]?.last ?? null;
    },
    async read(channel, after): Promise<ChannelRead> {
      // now() once per statement: a message is either held or gone, never both.
      const rows = await ctx.run(
        'read channel',
        () => sql<ReadRow[]>`
        SELECT c.last_id::text AS last,
               greatest(c.trimmed_through, coalesce((
                 SELECT e.id FROM channel_messages e
                 WHERE e.channel = c.channel AND e.published_at < now() - ${retention}::bigint * interval '1 millisecond'
                 ORDER BY e.published_at DESC LIMIT 1), 0))::text AS gone,
               m.id::text AS id, m.data
        FROM channels c
        LEFT JOIN LATERAL (
          SELECT id, data FROM channel_messages
          WHERE channel = c.channel AND id > ${after}::bigint
            AND published_at >= now() - ${retention}::bigint * interval '1 millisecond'
          ORDER BY id LIMIT ${CHANNEL_READ_BATCH}
        ) m ON true
        WHERE c.channel = ${channel}
        ORDER BY m.id`,
      );
      readRetries.reset();
      const first = rows[0];
      if (first === undefined) return { last: null, gone: null, messages: [], next: null };
      const messages = rows.flatMap((row) => (row.id === null ? [] : [{ id: row.id, data: row.data }]));
      const next = messages.length === CHANNEL_READ_BATCH ? (messages.at(-1)?.id ?? null) : null;
      return { last: first.last, gone: first.gone === '0' ? null : first.gone, messages, next };
    },
  };

  // A failed read (pool or server trouble, not the LISTEN connection's: that one reports its own loss) is tried
  // again with backoff. Dropping the LISTEN connection instead would reopen it at the first delay again and again
  // while reads keep failing.
  const readRetries = new ReconnectSchedule(options.backoffMs);
  let closed = false;
  const hub = new ChannelHub(source, {
    onReadError: () => {
      if (!closed) readRetries.schedule(() => hub.retryFailed());
    },
  });
  const listener = new PgChannelListener(
    {
      url: options.url,
      schema: options.schema,
      timeoutMs: options.timeoutMs,
      heartbeatMs: options.heartbeatMs,
      backoffMs: options.backoffMs,
    },
    { wake: (channel) => hub.wake(channel), reconnected: () => hub.wakeAll(), wanted: () => !hub.isEmpty() },
  );

  return {
    async publish(channel: string, data: JsonValue): Promise<string> {
      const json = preparePublish(channel, data, settings.maxMessageBytes);
      const payload = JSON.stringify({ s: options.schema, c: channel });
      // One statement, one transaction: lock the channel row, take the id, trim, insert, wake (NOTIFY is sent at commit).
      const rows = await ctx.run(
        'publish',
        () => sql<{ id: string }[]>`
        WITH ch AS (
          INSERT INTO channels AS c (channel, last_id, last_published_at)
          VALUES (${channel}, nextval('channel_message_ids'), clock_timestamp())
          ON CONFLICT (channel) DO UPDATE SET
            last_id = nextval('channel_message_ids'),
            last_published_at = clock_timestamp(),
            trimmed_through = greatest(c.trimmed_through, coalesce((
              SELECT e.id FROM channel_messages e
              WHERE e.channel = EXCLUDED.channel
                AND e.published_at < clock_timestamp() - ${retention}::bigint * interval '1 millisecond'
              ORDER BY e.published_at DESC LIMIT 1), 0))
          RETURNING c.channel, c.last_id, c.trimmed_through
        ), trimmed AS (
          DELETE FROM channel_messages m USING ch WHERE m.channel = ch.channel AND m.id <= ch.trimmed_through
        ), inserted AS (
          INSERT INTO channel_messages (channel, id, data, published_at)
          SELECT channel, last_id, ${json}::text::json, clock_timestamp() FROM ch
          RETURNING id
        )
        SELECT id::text AS id, pg_notify(${CHANNEL_NOTIFY}, ${payload}) FROM inserted`,
      );
      const id = rows[0]?.id;
      if (id === undefined) throw new Error('publish: the insert returned no id');
      return id;
    },

    async subscribe(channel: string, onEvent: (event: ChannelEvent) => void, opts?: { fromId?: string }): Promise<ChannelSubscription> {
      const fromId = prepareSubscribe(channel, onEvent, opts, DECIMAL_IDS);
      // Listening before the head is read: every later publish wakes this subscriber.
      await listener.ensureLive();
      return hub.subscribe(channel, onEvent, fromId);
    },

    async close(): Promise<void> {
      closed = true;
      readRetries.cancel();
      hub.close();
      await listener.close();
    },
  };
}
