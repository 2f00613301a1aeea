/**
 * Presence: members of a channel announce themselves with heartbeats that
 * expire. A member whose heartbeat lapsed is never listed or counted.
 *
 * PUT/DELETE need the `write` scope, GET the `read` scope. Channel and member
 * names follow the lock-name rule (validated by the port → 400). A token
 * confined to namespace patterns may use only channels whose scope (the part
 * before the first `:`) they match.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { JsonValue } from '../../core/port.js';
import { DEFAULT_PRESENCE_LIMIT, MAX_PRESENCE_LIMIT } from '../../core/validation.js';
import { authorize, createRouter, type AppDeps } from '../context.js';
import { parseDurationField } from '../fields.js';
import { jsonBody } from '../json-body.js';
import { DurationSchema, JsonObjectInput, ProblemSchema, problemResponses } from './openapi-shared.js';

export const DEFAULT_PRESENCE_TTL = '60s';

const NAME_DOC = '^[A-Za-z0-9_.:-]{1,200}$';
const Problem = { 'application/problem+json': { schema: ProblemSchema } };

const ChannelParam = z.string().openapi({ param: { name: 'channel', in: 'path' }, description: `Channel name, ${NAME_DOC}` });
const MemberParam = z.string().openapi({ param: { name: 'member', in: 'path' }, description: `Member name, ${NAME_DOC}` });

const HeartbeatBody = z
  .object({
    ttl: DurationSchema.optional().openapi({
      description: 'How long this heartbeat keeps the member present (default 60s)',
      example: '60s',
    }),
    data: JsonObjectInput.nullable()
      .optional()
      .openapi({
        type: ['object', 'null'],
        description: 'Small JSON object shown in the member list (at most 4 KiB serialized; default null)',
      }),
  })
  .strict()
  .openapi('Heartbeat');

const MemberSchema = z
  .object({
    member: z.string(),
    data: z.unknown().openapi({ description: 'As given on the last heartbeat, or null' }),
    expiresAt: z.string().openapi({ description: 'ISO 8601 UTC' }),
  })
  .openapi('PresenceMember');

const ListSchema = z
  .object({
    count: z.number().int().openapi({ description: 'Live members in total (not the page size)' }),
    members: z.array(MemberSchema).openapi({ description: 'Up to `limit` live members, ordered by member name (byte-wise)' }),
  })
  .openapi('PresenceList');

const LimitQuery = z.object({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,5}$/, 'must be a positive integer')
    .refine((limit) => Number(limit) <= MAX_PRESENCE_LIMIT, `must be at most ${MAX_PRESENCE_LIMIT}`)
    .optional()
    .openapi({ description: `Most members to list (default ${DEFAULT_PRESENCE_LIMIT}, at most ${MAX_PRESENCE_LIMIT})` }),
});

const ACCESS = { name: 'channel', what: 'presence channel' } as const;

export function presenceRoutes(deps: AppDeps) {
  const router = createRouter();
  const { port } = deps;

  router.openapi(
    createRoute({
      method: 'put',
      path: '/presence/{channel}/{member}',
      tags: ['presence'],
      summary: 'Join or heartbeat (the body is optional)',
      middleware: [authorize('write', ACCESS), jsonBody({ optional: true })],
      request: {
        params: z.object({ channel: ChannelParam, member: MemberParam }),
        body: { required: false, content: { 'application/json': { schema: HeartbeatBody } } },
      },
      responses: {
        ...problemResponses(401, 403, 503),
        204: { description: 'Present until now + ttl' },
        400: { description: 'Invalid channel, member, ttl or data', content: Problem },
        413: { description: 'data over 4 KiB serialized', content: Problem },
        415: { description: 'A body that is not application/json', content: Problem },
      },
    }),
    async (c) => {
      const { channel, member } = c.req.valid('param');
      const body = c.req.valid('json') ?? {};
      const ttl = parseDurationField(body.ttl ?? DEFAULT_PRESENCE_TTL, 'ttl');
      await port.heartbeat(channel, member, { ttl, data: (body.data ?? null) as JsonValue });
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/presence/{channel}/{member}',
      tags: ['presence'],
      summary: 'Leave; 204 whether or not the member was present',
      middleware: authorize('write', ACCESS),
      request: { params: z.object({ channel: ChannelParam, member: MemberParam }) },
      responses: {
        204: { description: 'Gone' },
        ...problemResponses(401, 403, 503),
        400: { description: 'Invalid channel or member', content: Problem },
      },
    }),
    async (c) => {
      const { channel, member } = c.req.valid('param');
      await port.leave(channel, member);
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/presence/{channel}',
      tags: ['presence'],
      summary: 'Live members and their total (an unknown channel is count 0)',
      middleware: authorize('read', ACCESS),
      request: { params: z.object({ channel: ChannelParam }), query: LimitQuery },
      responses: {
        ...problemResponses(401, 403, 503),
        200: { description: 'Live members', content: { 'application/json': { schema: ListSchema } } },
        400: { description: 'Invalid channel or limit', content: Problem },
      },
    }),
    async (c) => {
      const { channel } = c.req.valid('param');
      const { limit } = c.req.valid('query');
      const list = await port.members(channel, { limit: limit === undefined ? undefined : Number(limit) });
      const members = list.members.map((m) => ({ member: m.member, data: m.data, expiresAt: new Date(m.expiresAt).toISOString() }));
      return c.json({ count: list.count, members }, 200);
    },
  );

  return router;
}
