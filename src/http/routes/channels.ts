/**
 * Pub/sub channels over HTTP: POST publishes a JSON message (write scope),
 * GET subscribes as Server-Sent Events (read scope). Channel names follow the
 * lock-name rule; a token confined by namespace patterns may use only
 * channels whose scope (the part before the first `:`) they match.
 *
 * A subscriber gets every message published after its response headers, in
 * publish order; with Last-Event-ID it first gets the retained messages after
 * that id, or `event: gap` when some are no longer retained.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { ChannelEvent, JsonValue } from '../../core/port.js';
import { ValidationError } from '../../core/errors.js';
import { validateName } from '../../core/validation.js';
import { authorize, createRouter, type AppDeps } from '../context.js';
import { openEventStream } from '../event-stream.js';
import { jsonBody } from '../json-body.js';
import { validationProblem } from '../problem.js';
import type { SseStream } from '../sse.js';
import { problemResponses } from './openapi-shared.js';

const ChannelParam = z.object({
  channel: z.string().openapi({
    param: { name: 'channel', in: 'path' },
    description: 'Channel name: ^[A-Za-z0-9_.:-]{1,200}$; its scope (before the first `:`) is matched against the token',
    example: 'app-a:room-7',
  }),
});

const PublishBody = z
  .object({
    data: z
      .custom<JsonValue>((value) => value !== undefined, { message: 'is required' })
      .openapi({
        type: ['object', 'array', 'string', 'number', 'boolean', 'null'],
        description: 'Any JSON value (null too)',
        example: { text: 'hello', from: 'ada' },
      }),
  })
  .strict()
  .openapi('PublishMessage');

const PublishedSchema = z
  .object({ id: z.string().openapi({ description: 'The message id (the SSE `id:` subscribers see)', example: '1733131200000-0' }) })
  .openapi('PublishedMessage');

const EXAMPLE =
  'id: 1733131200000-0\nevent: message\ndata: {"text":"hello","from":"ada"}\n\n' +
  ': keepalive\n\n' +
  'event: gap\ndata: {"oldestId":"1733131260000-0"}\n\n';

const STREAM_DESCRIPTION =
  'Server-Sent Events. `event: message` with `id: <message id>` and `data: <the published JSON>`, in publish order. ' +
  'With `Last-Event-ID` the retained messages published after that id come first; when some of them are no longer ' +
  'retained (CHANNEL_RETENTION) the first event is `event: gap` with `data: {"oldestId": "<oldest id still held>" | null}`. ' +
  'A comment line `: keepalive` is sent on an idle stream every SSE_KEEPALIVE (15s). A subscriber that does not read ' +
  'fast enough (more than SSE_MAX_BUFFERED_BYTES or SSE_MAX_BUFFERED_EVENTS waiting) gets what was queued, then the end ' +
  '(or a cut connection after 2 s); reconnect with Last-Event-ID.';

const ACCESS = { name: 'channel', what: 'channel' } as const;

/** Feeds one stream: messages with their id (the client's Last-Event-ID), gaps without one. */
function channelWriter(stream: SseStream) {
  return (event: ChannelEvent): void => {
    if (event.type === 'message') stream.send({ id: event.id, event: 'message', data: JSON.stringify(event.data) });
    else stream.send({ event: 'gap', data: JSON.stringify({ oldestId: event.oldestId }) });
  };
}

/** The port names a malformed resume id `fromId`; over HTTP the client sent it as Last-Event-ID. */
function asLastEventIdProblem(error: unknown): unknown {
  if (!(error instanceof ValidationError)) return error;
  const params = error.invalidParams.map((p) => (p.name === 'fromId' ? { ...p, name: 'Last-Event-ID' } : p));
  return validationProblem(params);
}

export function channelRoutes(deps: AppDeps) {
  const router = createRouter();
  const { port, config } = deps;

  router.openapi(
    createRoute({
      method: 'post',
      path: '/channels/{channel}',
      tags: ['channels'],
      operationId: 'publishChannelMessage',
      summary: 'Publish a JSON message to a channel',
      description:
        `The whole body is at most CACHE_MAX_MESSAGE_BYTES (default 64 KiB; now ${config.maxMessageBytes}) → 413. ` +
        'The message is delivered to every subscriber of the channel on every server sharing the backend, and kept ' +
        'for replay within CHANNEL_RETENTION.',
      middleware: [authorize('write', ACCESS), jsonBody({ limit: { maxBytes: config.maxMessageBytes, name: 'CACHE_MAX_MESSAGE_BYTES' } })],
      request: { params: ChannelParam, body: { required: true, content: { 'application/json': { schema: PublishBody } } } },
      responses: {
        202: { description: 'Published', content: { 'application/json': { schema: PublishedSchema } } },
        ...problemResponses(400, 401, 403, 415, 503),
        413: { ...problemResponses(413)[413], description: 'The whole body is over CACHE_MAX_MESSAGE_BYTES' },
      },
    }),
    async (c) => {
      const { channel } = c.req.valid('param');
      validateName(channel, 'channel');
      const { data } = c.req.valid('json');
      const id = await port.publish(channel, data);
      return c.json({ id }, 202, { 'cache-control': 'no-store' });
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/channels/{channel}',
      tags: ['channels'],
      operationId: 'subscribeChannel',
      summary: 'Subscribe to a channel (Server-Sent Events)',
      description:
        'Send `Accept: text/event-stream` (an absent Accept, `*/*` and `text/*` also do); any other Accept is 406. ' +
        'Answered once the subscription is live: every message published after the response headers is delivered.',
      middleware: authorize('read', ACCESS),
      request: {
        params: ChannelParam,
        headers: z.object({
          'last-event-id': z
            .string()
            .optional()
            .openapi({ description: 'Resume after this message id (EventSource sends it on a reconnect)' }),
        }),
      },
      responses: {
        200: {
          description: STREAM_DESCRIPTION,
          content: { 'text/event-stream': { schema: z.string().openapi({ example: EXAMPLE }) } },
        },
        ...problemResponses(400, 401, 403, 406),
        503: { ...problemResponses(503)[503], description: 'The subscription could not be made live within the backend timeout' },
      },
    }),
    async (c) => {
      const { channel } = c.req.valid('param');
      validateName(channel, 'channel');
      const lastEventId = c.req.header('last-event-id');
      const fromId = lastEventId === undefined || lastEventId === '' ? undefined : lastEventId;
      return openEventStream(c, deps, (stream) =>
        port.subscribe(channel, channelWriter(stream), { fromId }).catch((error: unknown) => {
          throw asLastEventIdProblem(error);
        }),
      );
    },
  );

  return router;
}
