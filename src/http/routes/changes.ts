/**
 * GET /v1/namespaces/{ns}/changes: the namespace's change feed as Server-Sent
 * Events, for clients that keep local caches of their own (read scope,
 * confined by namespace like every namespace route).
 *
 * Each change is `event: change` with an id that increases within the
 * connection. The server keeps no history of changes, so `event: gap` means
 * "changes may have been missed: drop everything you hold of the namespace":
 * sent when the backend feed goes down (`live: false`, keep nothing cached
 * until the next gap) and when it is back (`live: true`, you are current
 * again), and first on a reconnect that sends Last-Event-ID.
 *
 * Every stream calls port.changes itself: both adapters already share one
 * backend subscription per namespace (one LISTEN connection per port on
 * Postgres, one SSUBSCRIBE per namespace on Redis) among their listeners, so
 * a stream costs one listener, not a connection.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { ChangeEvent } from '../../core/port.js';
import { validateNamespace } from '../../core/validation.js';
import { authorize, createRouter, type AppDeps } from '../context.js';
import { openEventStream } from '../event-stream.js';
import type { SseStream } from '../sse.js';
import { NamespaceParam, problemResponses } from './openapi-shared.js';

const EXAMPLE =
  'id: 1\nevent: change\ndata: {"op":"set","keys":["user:42"]}\n\n' +
  'id: 2\nevent: change\ndata: {"op":"prefix","prefix":"user:"}\n\n' +
  'id: 3\nevent: gap\ndata: {"live":false}\n\n' +
  ': keepalive\n\n';

const STREAM_DESCRIPTION =
  'Server-Sent Events. `event: change`, `data: {"op": "set"|"delete"|"expire"|"prefix"|"tags"|"clear"|"evict", ' +
  '"keys"?: [...], "prefix"?: "...", "tags"?: [...]}` (a change without keys, prefix and tags concerns the whole namespace). ' +
  '`event: gap`, `data: {"live": boolean}`: changes may have been missed, drop everything you hold of this namespace; ' +
  'with `live: false` the feed is down (cache nothing until the next gap), with `live: true` you are current again. ' +
  'Ids increase within a connection; a comment line `: keepalive` is sent on an idle stream every SSE_KEEPALIVE (15s). ' +
  'A subscriber that falls behind (SSE_MAX_BUFFERED_BYTES or SSE_MAX_BUFFERED_EVENTS waiting) gets what was queued, then the end: ' +
  'reconnect, and drop what you hold (the first event is a gap).';

/** The wire form of one change (the namespace is the stream's own). */
function changeData(event: ChangeEvent & { type: 'change' }): string {
  const { op, keys, prefix, tags } = event;
  return JSON.stringify({ op, ...(keys && { keys }), ...(prefix !== undefined && { prefix }), ...(tags && { tags }) });
}

/** Feeds one stream: ids count up per connection; down/up become gaps. */
function changeWriter(stream: SseStream) {
  let seq = 0;
  const gap = (live: boolean) => stream.send({ id: String(++seq), event: 'gap', data: JSON.stringify({ live }) });
  const onEvent = (event: ChangeEvent): void => {
    if (event.type === 'change') stream.send({ id: String(++seq), event: 'change', data: changeData(event) });
    else gap(event.type === 'up');
  };
  return { onEvent, gap };
}

export function changeRoutes(deps: AppDeps) {
  const router = createRouter();
  const { port } = deps;

  router.openapi(
    createRoute({
      method: 'get',
      path: '/namespaces/{ns}/changes',
      tags: ['namespaces'],
      operationId: 'streamNamespaceChanges',
      summary: 'Stream the changes of a namespace (Server-Sent Events)',
      description:
        'Every change to the namespace from any writer (any server process or instance, the worker, the library, SQL), ' +
        'for keeping a local cache coherent. The server keeps no history: a reconnect with `Last-Event-ID` first gets ' +
        '`event: gap` — drop everything you hold, then you are current. Send `Accept: text/event-stream` ' +
        '(an absent Accept, `*/*` and `text/*` also do); any other Accept is 406. Answered once the feed is live: ' +
        'every change after the response headers is delivered.',
      middleware: authorize('read', { namespace: 'ns' }),
      request: {
        params: z.object({ ns: NamespaceParam }),
        headers: z.object({
          'last-event-id': z
            .string()
            .optional()
            .openapi({ description: 'Sent by EventSource on a reconnect: the first event is then a gap' }),
        }),
      },
      responses: {
        200: {
          description: STREAM_DESCRIPTION,
          content: { 'text/event-stream': { schema: z.string().openapi({ example: EXAMPLE }) } },
        },
        ...problemResponses(400, 401, 403, 406),
        503: { ...problemResponses(503)[503], description: 'The change feed could not be made live within the backend timeout' },
      },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns, 'ns');
      const resumed = c.req.header('last-event-id') !== undefined;
      return openEventStream(c, deps, async (stream) => {
        const writer = changeWriter(stream);
        const subscription = await port.changes(ns, writer.onEvent);
        // Whatever the client held before it reconnected may be stale: nothing was kept for it.
        if (resumed) writer.gap(true);
        return subscription;
      });
    },
  );

  return router;
}
