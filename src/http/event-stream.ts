/**
 * Opening an event-stream response over a subscription, the part the channel
 * and change routes share: content negotiation (406), a subscription bounded
 * by the backend timeout (503, and a late one is undone), and unsubscribing
 * the moment the stream ends for any reason.
 */
import { BackendTimeoutError } from '../core/errors.js';
import type { AppContext, AppDeps } from './context.js';
import { HttpProblem } from './problem.js';
import { acceptsEventStream, SSE_HEADERS, SseStream } from './sse.js';

/**
 * How long an ending stream (a subscriber past its outbox bound, or a server
 * shutting down) may take to flush what it holds before its socket is cut.
 */
export const STREAM_FLUSH_GRACE_MS = 2000;

export interface Unsubscribe {
  unsubscribe(): void;
}

/** 406 unless the client accepts text/event-stream (an absent Accept does). */
export function requireEventStreamAccept(c: AppContext): void {
  if (!acceptsEventStream(c.req.header('accept'))) {
    throw new HttpProblem(406, 'not-acceptable', 'this route answers only text/event-stream: send Accept: text/event-stream');
  }
}

/**
 * Creates the stream, then `subscribe` (which feeds it); answers 200 once the
 * subscription is live, so everything after the response headers reaches the
 * client. A subscription slower than the backend timeout is a 503.
 */
export async function openEventStream(
  c: AppContext,
  deps: AppDeps,
  subscribe: (stream: SseStream) => Promise<Unsubscribe>,
): Promise<Response> {
  requireEventStreamAccept(c);
  // Hono answers HEAD from this GET handler and drops the body unread: a stream would never end.
  if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers: SSE_HEADERS });
  const { config } = deps;
  const outgoing = c.env?.outgoing;
  const stream = new SseStream(
    {
      keepaliveMs: config.sseKeepaliveMs,
      flushGraceMs: STREAM_FLUSH_GRACE_MS,
      maxBufferedBytes: config.sseMaxBufferedBytes,
      maxBufferedEvents: config.sseMaxBufferedEvents,
    },
    deps.streams,
    outgoing && (() => outgoing.destroy()),
  );
  let subscription: Unsubscribe;
  try {
    subscription = await boundedSubscribe(subscribe(stream), config.backendTimeoutMs);
  } catch (error) {
    stream.abandon();
    throw error;
  }
  stream.onClose(() => subscription.unsubscribe());
  // The client may have left while we subscribed: nobody will ever read the stream.
  if (c.req.raw.signal.aborted) stream.abandon();
  return new Response(stream.body, { status: 200, headers: SSE_HEADERS });
}

/** The subscription, or BackendTimeoutError after `timeoutMs`; one that arrives later is undone at once. */
function boundedSubscribe(pending: Promise<Unsubscribe>, timeoutMs: number): Promise<Unsubscribe> {
  return new Promise((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new BackendTimeoutError(timeoutMs, 'subscribe'));
    }, timeoutMs);
    pending.then(
      (subscription) => {
        clearTimeout(timer);
        if (expired) subscription.unsubscribe();
        else resolve(subscription);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
