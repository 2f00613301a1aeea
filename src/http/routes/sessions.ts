/**
 * Sessions: create on login, read (and slide) on each request, revoke on
 * logout, revoke every session of a subject on password change.
 *
 * Every route needs the `write` scope, GET included: reading slides the
 * expiry. An unknown, tampered or expired id is 404 on GET and PATCH; DELETE
 * is idempotent (204 either way), so no route reveals whether a subject or an
 * id ever existed. Responses carry `Cache-Control: no-store`.
 *
 * A token confined to namespace patterns may use only subjects whose scope
 * (the part before the first `:`) they match; a session read, patched or
 * revoked by id whose subject lies outside is 404, as if it did not exist.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { authorize, authorizeBodyName, createRouter, mayUseName, requireNameScope, type AppContext, type AppDeps } from '../context.js';
import { parseDurationField } from '../fields.js';
import { jsonBody } from '../json-body.js';
import { HttpProblem } from '../problem.js';
import { DurationSchema, JsonObjectInput, ProblemSchema, problemResponses } from './openapi-shared.js';

export const DEFAULT_SESSION_TTL = '30m';
export const DEFAULT_SESSION_MAX_AGE = '7d';

const JsonObjectSchema = z.record(z.string(), z.unknown()).openapi({ type: 'object', description: 'Any JSON object' });
const Problem = { 'application/problem+json': { schema: ProblemSchema } };
const NO_STORE = { 'cache-control': 'no-store' };

const SessionId = z.object({
  id: z
    .string()
    .openapi({ param: { name: 'id', in: 'path' }, description: 'The session id returned on creation (43 base64url characters)' }),
});

const CreateBody = z
  .object({
    subject: z.string().openapi({ description: 'Who the session belongs to (1–256 characters, no NUL), e.g. a user id' }),
    data: JsonObjectInput.optional().openapi({ description: 'Application data, a JSON object of at most 64 KiB serialized (default {})' }),
    ttl: DurationSchema.optional().openapi({
      description: 'Sliding expiry: each GET extends the session by this much (default 30m)',
      example: '30m',
    }),
    maxAge: DurationSchema.optional().openapi({
      description: 'Absolute lifetime from creation; sliding never extends past it (default 7d). Must not be below ttl.',
      example: '7d',
    }),
  })
  .strict()
  .openapi('CreateSession');

const CreatedSchema = z
  .object({
    id: z.string().openapi({ description: '256-bit random base64url id; only its SHA-256 is stored' }),
    subject: z.string(),
    createdAt: z.string().openapi({ description: 'ISO 8601 UTC' }),
    expiresAt: z.string().openapi({ description: 'ISO 8601 UTC' }),
  })
  .openapi('CreatedSession');

const SessionSchema = z
  .object({
    subject: z.string(),
    data: JsonObjectSchema,
    createdAt: z.string().openapi({ description: 'ISO 8601 UTC' }),
    expiresAt: z.string().openapi({ description: 'ISO 8601 UTC, after this read slid it' }),
  })
  .openapi('Session');

const iso = (ms: number) => new Date(ms).toISOString();

function notFound(): HttpProblem {
  return new HttpProblem(404, 'session-not-found', 'no live session has this id (unknown, revoked or expired)', NO_STORE);
}

/** A token confined to namespace patterns: only unconfined tokens skip the subject check. */
function isConfined(c: AppContext): boolean {
  return !(c.get('principal')?.namespaces.includes('*') ?? false);
}

export function sessionRoutes(deps: AppDeps) {
  const router = createRouter();
  const { port } = deps;

  /** 404 unless session `id` is live and its subject within the token's scope; reads without sliding the expiry. */
  async function requireOwnSession(c: AppContext, id: string): Promise<void> {
    const subject = await port.sessionSubject(id);
    if (subject === undefined || !mayUseName(c, subject)) throw notFound();
  }

  router.openapi(
    createRoute({
      method: 'post',
      path: '/sessions',
      tags: ['sessions'],
      summary: 'Create a session (on login)',
      middleware: [authorize('write'), jsonBody(), authorizeBodyName('subject', 'session subject')],
      request: { body: { required: true, content: { 'application/json': { schema: CreateBody } } } },
      responses: {
        ...problemResponses(401, 403, 503),
        201: { description: 'Created', content: { 'application/json': { schema: CreatedSchema } } },
        400: { description: 'Invalid subject, data, ttl or maxAge (maxAge below ttl)', content: Problem },
        413: { description: 'data over 64 KiB serialized', content: Problem },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const ttl = parseDurationField(body.ttl ?? DEFAULT_SESSION_TTL, 'ttl');
      const maxAge = parseDurationField(body.maxAge ?? DEFAULT_SESSION_MAX_AGE, 'maxAge');
      const created = await port.createSession({ subject: body.subject, data: body.data, ttl, maxAge });
      return c.json(
        { id: created.id, subject: created.subject, createdAt: iso(created.createdAt), expiresAt: iso(created.expiresAt) },
        201,
        NO_STORE,
      );
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/sessions/{id}',
      tags: ['sessions'],
      summary: 'Read a session and slide its expiry (never past maxAge); needs the write scope',
      middleware: authorize('write'),
      request: { params: SessionId },
      responses: {
        ...problemResponses(401, 403, 503),
        200: { description: 'The live session, with its new expiry', content: { 'application/json': { schema: SessionSchema } } },
        404: { description: 'Unknown, revoked or expired', content: Problem },
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      // A confined token learns the subject first without sliding: another tenant's session must not move.
      if (isConfined(c)) await requireOwnSession(c, id);
      const session = await port.getSession(id);
      if (!session || !mayUseName(c, session.subject)) throw notFound();
      const body = { subject: session.subject, data: session.data, createdAt: iso(session.createdAt), expiresAt: iso(session.expiresAt) };
      return c.json(body, 200, NO_STORE);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/sessions/{id}/subject',
      tags: ['sessions'],
      summary: "A live session's subject, without sliding its expiry (access checks); needs the write scope",
      middleware: authorize('write'),
      request: { params: SessionId },
      responses: {
        ...problemResponses(401, 403, 503),
        200: {
          description: 'The subject of the live session',
          content: { 'application/json': { schema: z.object({ subject: z.string() }).openapi('SessionSubject') } },
        },
        404: { description: 'Unknown, revoked or expired', content: Problem },
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const subject = await port.sessionSubject(id);
      if (subject === undefined || !mayUseName(c, subject)) throw notFound();
      return c.json({ subject }, 200, NO_STORE);
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/sessions/{id}',
      tags: ['sessions'],
      summary: "Replace a session's data (does not slide the expiry)",
      middleware: [authorize('write'), jsonBody()],
      request: {
        params: SessionId,
        body: {
          required: true,
          content: { 'application/json': { schema: z.object({ data: JsonObjectInput }).strict().openapi('UpdateSession') } },
        },
      },
      responses: {
        ...problemResponses(401, 403, 503),
        200: {
          description: 'Replaced; echoes the new data',
          content: { 'application/json': { schema: z.object({ data: JsonObjectSchema }) } },
        },
        404: { description: 'Unknown, revoked or expired', content: Problem },
        413: { description: 'data over 64 KiB serialized', content: Problem },
      },
    }),
    async (c) => {
      const { data } = c.req.valid('json');
      const { id } = c.req.valid('param');
      if (isConfined(c)) await requireOwnSession(c, id);
      const updated = await port.updateSession(id, data);
      if (!updated) throw notFound();
      return c.json({ data }, 200, NO_STORE);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/sessions/{id}',
      tags: ['sessions'],
      summary: 'Revoke one session (logout); 204 whether or not it existed',
      middleware: authorize('write'),
      request: { params: SessionId },
      responses: {
        204: { description: 'Revoked (or was not there)' },
        404: { description: "The session's subject lies outside the token's scope", content: Problem },
        ...problemResponses(401, 403, 503),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (isConfined(c)) {
        const subject = await port.sessionSubject(id);
        if (subject !== undefined && !mayUseName(c, subject)) throw notFound();
      }
      await port.revokeSession(id);
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/sessions',
      tags: ['sessions'],
      summary: 'Revoke every session of a subject (log out everywhere)',
      middleware: authorize('write'),
      request: { query: z.object({ subject: z.string().openapi({ description: 'The subject whose sessions to revoke' }) }) },
      responses: {
        ...problemResponses(401, 403, 503),
        200: {
          description: 'How many live sessions were revoked (0 for an unknown subject)',
          content: { 'application/json': { schema: z.object({ revoked: z.number().int() }).openapi('RevokedSessions') } },
        },
        400: { description: 'Missing or invalid subject', content: Problem },
      },
    }),
    async (c) => {
      const { subject } = c.req.valid('query');
      requireNameScope(c, subject, 'session subject');
      const revoked = await port.revokeSubject(subject);
      return c.json({ revoked }, 200);
    },
  );

  return router;
}
