/**
 * Server-Sent Events responses with a bounded outbox, shared by the channel
 * and change-stream routes.
 *
 * The response body is a ReadableStream we feed ourselves rather than Hono's
 * streamSSE. streamSSE has backpressure only for a producer that awaits each
 * write; ours are push callbacks (a message, a change) that cannot wait, so
 * unawaited writes would queue inside its TransformStream, uncounted and
 * unbounded (and its writes swallow errors). @hono/node-server pulls from
 * this stream only while the socket accepts data (it waits for `drain`), so
 * frames that cannot be written pile up in our outbox, where they are
 * counted; past `maxBufferedBytes` or `maxBufferedEvents` the subscriber is
 * disconnected (see send) instead of being buffered further.
 * When the client goes away, node-server cancels the stream and `onClose`
 * callbacks (the routes' unsubscribe) run at once. test/http/sse.test.ts
 * checks both on the real node server.
 *
 * An idle stream gets a `: keepalive` comment every `keepaliveMs`. Every open
 * stream is tracked by an SseStreams registry so a graceful shutdown can end
 * them all cleanly instead of waiting for its grace period.
 */
import { sseDisconnects, sseStreamsOpen } from '../metrics.js';

export interface SseLimits {
  /** A comment line is sent when nothing else was sent for this long. */
  keepaliveMs: number;
  /** How long a stream that is ending (overflow, shutdown) may take to flush what it holds before its socket is cut. */
  flushGraceMs: number;
  /** Bytes waiting for a socket that does not drain; more → disconnect (a single larger event is still sent). */
  maxBufferedBytes: number;
  /** Events waiting for a socket that does not drain; more → disconnect. */
  maxBufferedEvents: number;
}

export interface SseEvent {
  /** Becomes the client's Last-Event-ID. */
  id?: string;
  event: string;
  /** One line of text (JSON.stringify never emits a newline). */
  data: string;
}

/** Why a stream ended: the client left, the server closed it, or the client could not keep up. */
export type SseEndReason = 'client' | 'server' | 'slow';

const encoder = new TextEncoder();

/** One event in the SSE wire format; multi-line data is split into data: lines. */
export function formatEvent(event: SseEvent): string {
  let out = '';
  if (event.id !== undefined) out += `id: ${singleLine(event.id, 'id')}\n`;
  out += `event: ${singleLine(event.event, 'event')}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

function singleLine(value: string, field: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`SSE ${field} must be one line`);
  return value;
}

export class SseStream {
  readonly body: ReadableStream<Uint8Array>;
  private readonly outbox: Uint8Array[] = [];
  private bufferedBytes = 0;
  private bufferedEvents = 0;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** Resolves a pull that found the outbox empty. */
  private wake: (() => void) | undefined;
  private ending = false;
  /** Reported to onClose when an ending stream finishes. */
  private endReason: SseEndReason = 'server';
  private ended = false;
  private sentSinceKeepalive = false;
  private readonly keepalive: NodeJS.Timeout;
  private readonly closeListeners: ((reason: SseEndReason) => void)[] = [];

  /**
   * @param cut destroys the connection (the response's socket); without it the
   * stream errors, which the node server also turns into a destroyed socket,
   * but logs to the console.
   */
  constructor(
    private readonly limits: SseLimits,
    private readonly registry?: SseStreams,
    private readonly cut?: () => void,
  ) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: (controller) => this.pull(controller),
        cancel: () => this.finish('client'),
      },
      // No buffering inside the stream: what is not yet written stays in the outbox, where it is counted.
      new CountQueuingStrategy({ highWaterMark: 0 }),
    );
    this.keepalive = setInterval(() => this.tick(), limits.keepaliveMs);
    this.keepalive.unref();
    registry?.add(this);
    sseStreamsOpen.inc();
  }

  /** False once the stream has ended (nothing is sent then). */
  get open(): boolean {
    return !this.ended && !this.ending;
  }

  /** Bytes queued for the socket right now. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** Runs once when the stream ends, whatever the reason. */
  onClose(listener: (reason: SseEndReason) => void): void {
    if (this.ended) listener('server');
    else this.closeListeners.push(listener);
  }

  /**
   * Queues one event. When it would take the outbox past its bound the client
   * is not keeping up: nothing more is queued, what is queued is still
   * flushed (so a client that reconnects with Last-Event-ID makes progress
   * even after a burst larger than the bound), then the stream ends; a
   * socket that does not drain within the grace is cut.
   */
  send(event: SseEvent): void {
    if (!this.open) return;
    const bytes = encoder.encode(formatEvent(event));
    // What is bounded is a backlog: an event always fits an outbox without one, else an event larger than the whole
    // bound would cut every subscriber at that event, again after each reconnect with Last-Event-ID.
    const backlog = this.bufferedEvents > 0;
    if (
      backlog &&
      (this.bufferedBytes + bytes.byteLength > this.limits.maxBufferedBytes || this.bufferedEvents + 1 > this.limits.maxBufferedEvents)
    ) {
      sseDisconnects.inc({ reason: 'slow' });
      this.endReason = 'slow';
      this.end();
      return;
    }
    this.bufferedEvents++;
    this.enqueue(bytes);
  }

  /** Ends the stream cleanly after what is queued; a client that does not take it within the grace is cut. */
  end(): void {
    if (!this.open) return;
    this.ending = true;
    this.wake?.();
    setTimeout(() => this.finish(this.endReason, new Error('the stream could not be flushed')), this.limits.flushGraceMs).unref();
  }

  /** Ends a stream that was never handed to a client (its subscription failed). */
  abandon(): void {
    this.finish('server');
  }

  private enqueue(bytes: Uint8Array): void {
    this.outbox.push(bytes);
    this.bufferedBytes += bytes.byteLength;
    this.sentSinceKeepalive = true;
    this.wake?.();
  }

  private tick(): void {
    if (!this.sentSinceKeepalive && this.outbox.length === 0 && this.open) this.enqueue(encoder.encode(': keepalive\n\n'));
    this.sentSinceKeepalive = false;
  }

  /** The node server wants more: hand over everything queued as one chunk, or wait for some. */
  private async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    while (this.outbox.length === 0 && !this.ending && !this.ended) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    if (this.ended) return;
    if (this.outbox.length > 0) {
      const chunk = this.outbox.length === 1 ? (this.outbox[0] as Uint8Array) : Buffer.concat(this.outbox);
      this.outbox.length = 0;
      this.bufferedBytes = 0;
      this.bufferedEvents = 0;
      controller.enqueue(chunk);
      return;
    }
    // Ending and everything written.
    controller.close();
    this.finish(this.endReason);
  }

  private finish(reason: SseEndReason, error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepalive);
    this.outbox.length = 0;
    this.bufferedBytes = 0;
    this.bufferedEvents = 0;
    if (error !== undefined) {
      if (this.cut) this.cut();
      else {
        try {
          this.controller?.error(error);
        } catch {
          // Already closed by the consumer.
        }
      }
    }
    this.wake?.();
    this.registry?.remove(this);
    sseStreamsOpen.dec();
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }
}

/** The open streams of one server, so shutdown can end them (they would otherwise hold it open). */
export class SseStreams {
  private readonly streams = new Set<SseStream>();
  private closed = false;

  add(stream: SseStream): void {
    if (this.closed) stream.end();
    else this.streams.add(stream);
  }

  remove(stream: SseStream): void {
    this.streams.delete(stream);
  }

  /** Open streams right now. */
  get size(): number {
    return this.streams.size;
  }

  /** Streams still open but ending: flushing what they hold after an overflow or a shutdown. */
  get ending(): number {
    let count = 0;
    for (const stream of this.streams) if (!stream.open) count++;
    return count;
  }

  /** Bytes queued over all open streams (bounded by size × (maxBufferedBytes + one event)). */
  get bufferedBytes(): number {
    let total = 0;
    for (const stream of this.streams) total += stream.buffered;
    return total;
  }

  /** Ends every stream cleanly; streams opened afterwards end at once. */
  endAll(): void {
    this.closed = true;
    for (const stream of [...this.streams]) stream.end();
  }
}

/**
 * Whether an Accept header admits text/event-stream: absent, `*\/*`,
 * `text/*` or `text/event-stream`, with a q above 0.
 */
export function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (range !== 'text/event-stream' && range !== 'text/*' && range !== '*/*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** Headers of every event-stream response; `connection: close` so an ended stream frees its socket (shutdown). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  connection: 'close',
  'x-accel-buffering': 'no',
} as const;
