/**
 * The HTTP change feed: one SSE stream `GET /v1/namespaces/{ns}/changes` per
 * subscribed namespace, shared by every subscriber of that namespace on this
 * port. The streams count as one connection for the feed's state: when any of
 * them ends, every stream is closed and every subscriber hears `down`; the
 * feed reopens them all with backoff and reports `up` (ReconnectingFeed).
 * A `gap` event is reported to that namespace's subscribers: `{"live": false}`
 * (the server's own feed is down) as `down`, `{"live": true}` (changes may
 * have been missed, the stream is current again) as `down` then `up`.
 */
import { BackendUnavailableError } from '../../core/errors.js';
import { isChangeOp, isStringArray, readChangeFields } from '../../core/change-payload.js';
import type { Change } from '../../core/port.js';
import type { BackoffRange } from '../../core/reconnect-schedule.js';
import { ReconnectingFeed } from '../../core/reconnecting-feed.js';
import type { HttpClient } from './client.js';
import { openSse, type SseEvent, type SseStream } from './sse.js';
import { segment } from './wire.js';

export interface HttpChangeFeedOptions {
  backoffMs?: BackoffRange;
}

/** The event's JSON as a Change of `ns`, or undefined when it is not one this version understands. */
export function parseHttpChange(ns: string, data: string): Change | undefined {
  const fields = readChangeFields(data);
  if (fields === undefined || !isChangeOp(fields.op)) return undefined;
  const change: Change = { ns, op: fields.op };
  if (isStringArray(fields.keys)) change.keys = fields.keys;
  if (typeof fields.prefix === 'string') change.prefix = fields.prefix;
  if (isStringArray(fields.tags)) change.tags = fields.tags;
  return change;
}

export class HttpChangeFeed extends ReconnectingFeed {
  private readonly streams = new Map<string, Promise<SseStream>>();

  constructor(
    private readonly client: HttpClient,
    options: HttpChangeFeedOptions = {},
  ) {
    // The server keeps idle streams open with comments; a dead one ends, so there is nothing to ping.
    super(options.backoffMs);
  }

  async close(): Promise<void> {
    this.shutDown();
    this.dropStreams();
  }

  /** (Re)opens a stream for every namespace somebody listens to. */
  protected async open(): Promise<void> {
    try {
      await Promise.all(this.listeners.namespaces().map((ns) => this.stream(ns)));
    } catch (error) {
      this.dropStreams();
      throw error;
    }
    this.becameLive(() => {});
  }

  protected override listenTo(ns: string): Promise<void> {
    return this.stream(ns).then(() => undefined);
  }

  protected override release(ns: string): void {
    const stream = this.streams.get(ns);
    this.streams.delete(ns);
    stream?.then((s) => s.close()).catch(() => undefined);
  }

  private stream(ns: string): Promise<SseStream> {
    let stream = this.streams.get(ns);
    if (stream === undefined) {
      stream = openSse(this.client, {
        path: `/v1/namespaces/${segment(ns)}/changes`,
        operation: 'changes',
        onEvent: (event) => this.deliver(ns, event),
        onEnd: (error) => this.lost(error),
      });
      this.streams.set(ns, stream);
      stream.catch(() => {
        if (this.streams.get(ns) === stream) this.streams.delete(ns);
      });
    }
    return stream;
  }

  private deliver(ns: string, event: SseEvent): void {
    if (event.event === 'change' || event.event === 'message') {
      const change = parseHttpChange(ns, event.data);
      if (change) this.listeners.emit(change);
    } else if (event.event === 'gap') {
      // `live: false`: the server's own feed is down (hold nothing until the next gap); otherwise changes may have
      // been missed but the stream is current again: a down then up, so subscribers drop what they hold.
      const live = readChangeFields(event.data)?.live !== false;
      this.listeners.emitTo(ns, { type: 'down', error: new BackendUnavailableError(`changes of ${ns} may have been missed (gap)`) });
      if (live) this.listeners.emitTo(ns, { type: 'up' });
    }
  }

  private lost(error: Error): void {
    if (this.closed) return;
    this.dropStreams();
    this.wentDown(error);
  }

  private dropStreams(): void {
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const stream of streams) stream.then((s) => s.close()).catch(() => undefined);
  }
}
