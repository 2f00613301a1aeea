/**
 * Pub/sub over the server's channel routes: publish is POST
 * /v1/channels/{channel} {"data"} → 202 {"id"}; each subscription is its own
 * SSE stream GET /v1/channels/{channel} (`event: message` with the id,
 * `event: gap` with {"oldestId"}). A dropped stream is reopened with backoff
 * and Last-Event-ID = the last id delivered (or `fromId`), so the server
 * replays what was missed within retention or answers with a gap. A stream
 * dropped before any id was known cannot be resumed: the subscriber gets
 * `gap` with oldestId null (messages in between may be missing).
 */
import { preparePublish } from '../../core/channels.js';
import { DECIMAL_IDS, STREAM_IDS, type ChannelIds } from '../../core/channel-ids.js';
import { BackendUnavailableError, ValidationError } from '../../core/errors.js';
import type { ChannelEvent, ChannelSubscription, JsonValue, PubSub, SubscribeOptions } from '../../core/port.js';
import { ReconnectSchedule } from '../../core/reconnect-schedule.js';
import { validateName } from '../../core/validation.js';
import type { HttpClient } from './client.js';
import { openSse, type SseEvent, type SseStream } from './sse.js';
import { nameSegment } from './wire.js';

/** The server's backend decides the id format (Postgres: decimal; Redis: <ms>-<seq>); either is a well-formed fromId here. */
const ANY_IDS: ChannelIds = {
  zero: '0',
  validate(id, field): asserts id is string {
    try {
      DECIMAL_IDS.validate(id, field);
    } catch {
      try {
        STREAM_IDS.validate(id, field);
      } catch {
        throw new ValidationError({ name: field, reason: 'must be a message id of this channel' });
      }
    }
  },
  compare: () => 0,
};

const path = (channel: string) => `/v1/channels/${nameSegment(channel, 'channel')}`;

/** One subscription: its stream, the last id it delivered, and its reconnects. */
class ChannelStream {
  private stream: SseStream | undefined;
  private lastId: string | undefined;
  private ended = false;
  /** Events that arrived before subscribe() resolved: the subscriber hears nothing before it holds its subscription. */
  private held: ChannelEvent[] | undefined = [];
  private readonly retries = new ReconnectSchedule();

  constructor(
    private readonly client: HttpClient,
    private readonly channel: string,
    private readonly onEvent: (event: ChannelEvent) => void,
    fromId: string | undefined,
    private readonly forget: (stream: ChannelStream) => void,
  ) {
    this.lastId = fromId;
  }

  async open(): Promise<void> {
    const headers: Record<string, string> = this.lastId === undefined ? {} : { 'last-event-id': this.lastId };
    const stream = await openSse(this.client, {
      path: path(this.channel),
      headers,
      operation: 'subscribe',
      onEvent: (event) => this.deliver(event),
      onEnd: () => this.lost(),
    });
    if (this.ended) stream.close();
    else this.stream = stream;
  }

  /** subscribe() has resolved: deliver what arrived meanwhile, then everything as it comes. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const event of held) this.emit(event);
  }

  close(): void {
    this.ended = true;
    this.held = undefined;
    this.retries.cancel();
    this.stream?.close();
    this.forget(this);
  }

  private deliver(event: SseEvent): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      return;
    }
    if (event.event === 'message' && event.id !== undefined) {
      this.lastId = event.id;
      this.emit({ type: 'message', id: event.id, data: parsed as JsonValue });
    } else if (event.event === 'gap') {
      const oldestId = (parsed as { oldestId?: unknown }).oldestId;
      this.emit({ type: 'gap', oldestId: typeof oldestId === 'string' ? oldestId : null });
    }
  }

  private emit(event: ChannelEvent): void {
    // Unsubscribed (possibly from inside the previous callback): nothing more, not even the rest of a chunk.
    if (this.ended) return;
    if (this.held) {
      this.held.push(event);
      return;
    }
    try {
      const result: unknown = this.onEvent(event);
      // An async callback that rejects must not become an unhandled rejection (which ends a Node process).
      if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function')
        (result as PromiseLike<unknown>).then(undefined, () => {});
    } catch {
      // The subscriber's own failure; the stream goes on.
    }
  }

  private lost(): void {
    this.stream = undefined;
    if (this.ended) return;
    const resumable = this.lastId !== undefined;
    this.retries.schedule(() => {
      if (this.ended) return;
      this.open().then(
        () => {
          this.retries.reset();
          if (!resumable) this.emit({ type: 'gap', oldestId: null });
        },
        () => this.lost(),
      );
    });
  }
}

export interface HttpPubSub extends PubSub {
  /** Ends every subscription (close of the port). */
  closeAll(): void;
}

export function createHttpPubSub(client: HttpClient, maxMessageBytes: number): HttpPubSub {
  const streams = new Set<ChannelStream>();

  async function publish(channel: string, data: JsonValue): Promise<string> {
    const json = preparePublish(channel, data, maxMessageBytes);
    const { body } = await client.json<{ id: string }>({
      method: 'POST',
      path: path(channel),
      body: Buffer.from(`{"data":${json}}`),
      headers: { 'content-type': 'application/json' },
      operation: 'publish',
    });
    return body.id;
  }

  async function subscribe(
    channel: string,
    onEvent: (event: ChannelEvent) => void,
    options?: SubscribeOptions,
  ): Promise<ChannelSubscription> {
    validateName(channel, 'channel');
    if (typeof onEvent !== 'function') throw new ValidationError({ name: 'onEvent', reason: 'must be a function' });
    if (options !== undefined && (typeof options !== 'object' || options === null))
      throw new ValidationError({ name: 'options', reason: 'must be an object' });
    const fromId = options?.fromId;
    if (fromId !== undefined) ANY_IDS.validate(fromId, 'fromId');
    if (client.closed) throw new BackendUnavailableError('the port is closed');
    const stream = new ChannelStream(client, channel, onEvent, fromId, (s) => streams.delete(s));
    await stream.open();
    streams.add(stream);
    // After the caller's await has resumed (a macrotask later than the resolution it continues on).
    setImmediate(() => stream.release());
    return { unsubscribe: () => stream.close() };
  }

  return {
    publish,
    subscribe,
    closeAll() {
      for (const stream of [...streams]) stream.close();
    },
  };
}
