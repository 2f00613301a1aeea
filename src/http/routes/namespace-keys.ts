/**
 * A namespace's keys: one page of the key listing, the most read entries,
 * and bulk expire. Listings need `read`; bulk expire needs `admin`. A token
 * confined by namespace patterns reaches only its namespaces (403 otherwise),
 * checked before anything is parsed.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { DEFAULT_KEY_LIST_LIMIT, DEFAULT_TOP_LIMIT, MAX_KEY_LIST_LIMIT, MAX_TOP_LIMIT } from '../../core/key-listing.js';
import type { ExpireManyFilter } from '../../core/port.js';
import { validateNamespace } from '../../core/validation.js';
import { authorize, createRouter, type AppDeps } from '../context.js';
import { parseTtlOrNone, requireStrictQueryEncoding } from '../fields.js';
import { asObject, jsonBody, readJson } from '../json-body.js';
import { invalidParam, validationProblem } from '../problem.js';
import { DurationSchema, NamespaceParam, problemResponses } from './openapi-shared.js';

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const params = z.object({ ns: NamespaceParam });
const NS = { namespace: 'ns' } as const;
const LIMIT = /^[1-9][0-9]{0,5}$/;

const KeyListQuery = z.object({
  prefix: z.string().optional().openapi({
    description:
      'Literal prefix (no wildcards; `%`, `_`, `*` are ordinary), percent-encoded UTF-8 (`%` itself as `%25`; invalid encoding is 400)',
    example: 'user:',
  }),
  limit: z
    .string()
    .regex(LIMIT, 'must be a positive integer')
    .optional()
    .openapi({ description: `Most keys per page (default ${DEFAULT_KEY_LIST_LIMIT}, at most ${MAX_KEY_LIST_LIMIT})`, example: '100' }),
  cursor: z.string().optional().openapi({ description: 'The `cursor` of the previous page (opaque)' }),
});

const KeyPageSchema = z
  .object({
    keys: z.array(
      z.object({
        key: z.string(),
        size: z.number().int().openapi({ description: 'Value bytes' }),
        expiresAt: z.string().nullable().openapi({ description: 'ISO 8601 (UTC), or null for no expiry' }),
      }),
    ),
    cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  })
  .openapi('KeyPage', {
    example: { keys: [{ key: 'user:42', size: 128, expiresAt: '2026-01-01T12:00:00.000Z' }], cursor: 'dXNlcjo0Mg' },
  });

const TopSchema = z
  .object({
    entries: z.array(
      z.object({
        key: z.string(),
        hits: z.number().int().openapi({ description: 'Approximate reads (batched; see the docs)' }),
        lastAccessAt: z.string().nullable().openapi({ description: 'ISO 8601 time of the last recorded read' }),
      }),
    ),
  })
  .openapi('TopEntries', { example: { entries: [{ key: 'user:42', hits: 1250, lastAccessAt: '2026-01-01T11:59:58.000Z' }] } });

const ExpireBodySchema = z
  .object({
    ttl: z.union([DurationSchema, z.null()]).openapi({ description: 'The new expiry from now, or null for none (required)' }),
    prefix: z.string().optional().openapi({ description: 'Only keys starting with this literal prefix' }),
    tags: z.array(z.string()).optional().openapi({ description: 'Only entries carrying any of these tags' }),
  })
  .strict()
  .openapi('ExpireManyRequest', { description: 'At most one of prefix and tags', example: { ttl: '30s', prefix: 'user:' } });

const EXPIRE_FIELDS = ['ttl', 'prefix', 'tags'];

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function namespaceKeyRoutes(deps: AppDeps) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/namespaces/{ns}/keys',
      operationId: 'listNamespaceKeys',
      tags: ['namespaces'],
      summary: 'One page of live keys in byte order, with size and expiry',
      description:
        'Cost O(page). A page examines at most limit + min(limit, 1000) stored keys; expired ones are skipped, so a page may be shorter than `limit` (even empty) while `cursor` is not null. `cursor` is null only at the end.',
      middleware: authorize('read', NS),
      request: { params, query: KeyListQuery },
      responses: { 200: json(KeyPageSchema, 'One page of keys'), ...problemResponses(400, 401, 403, 503) },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      const { prefix, limit, cursor } = c.req.valid('query');
      if (prefix !== undefined) requireStrictQueryEncoding(c.req.url, 'prefix');
      const page = await deps.port.listKeys(ns, {
        prefix: prefix === '' ? undefined : prefix,
        limit: limit === undefined ? undefined : Number(limit),
        cursor,
      });
      const keys = page.keys.map((k) => ({ key: k.key, size: k.size, expiresAt: iso(k.expiresAt) }));
      return c.json({ keys, cursor: page.cursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/namespaces/{ns}/top',
      operationId: 'topNamespaceEntries',
      tags: ['namespaces'],
      summary: 'The most read live entries by approximate hits',
      description: 'Hits are counted in memory per process and written in batches (about every 1-5 s); see the docs for what counts.',
      middleware: authorize('read', NS),
      request: {
        params,
        query: z.object({
          limit: z
            .string()
            .regex(LIMIT, 'must be a positive integer')
            .optional()
            .openapi({ description: `Most entries (default ${DEFAULT_TOP_LIMIT}, at most ${MAX_TOP_LIMIT})`, example: '10' }),
        }),
      },
      responses: { 200: json(TopSchema, 'Most read first; equal counts in key byte order'), ...problemResponses(400, 401, 403, 503) },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      const { limit } = c.req.valid('query');
      const top = await deps.port.top(ns, { limit: limit === undefined ? undefined : Number(limit) });
      return c.json({ entries: top.map((e) => ({ key: e.key, hits: e.hits, lastAccessAt: iso(e.lastAccessAt) })) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/namespaces/{ns}/entries',
      operationId: 'expireNamespaceEntries',
      tags: ['namespaces'],
      summary: 'Set the expiry of every live entry (or those under a literal prefix, or with any of the tags)',
      description:
        'Applied in batches of 1000 keys (one transaction or script each), so other writers wait for at most one batch. Entries written meanwhile may or may not be included. A 503 after the first batch leaves the batches already applied in place; sending the request again completes it.',
      middleware: [authorize('admin', NS), jsonBody()],
      request: { params, body: { required: true, content: { 'application/json': { schema: ExpireBodySchema } } } },
      responses: {
        200: json(z.object({ updated: z.number().int() }).openapi({ example: { updated: 42 } }), 'Live entries updated'),
        ...problemResponses(400, 401, 403, 413, 415, 503),
      },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      // The parsed object itself: a schema parse would drop an own `__proto__` key.
      const body = asObject(await readJson(c));
      const unknown = Object.keys(body).filter((k) => !EXPIRE_FIELDS.includes(k));
      if (unknown.length > 0) throw invalidParam(unknown[0] as string, 'is not a field of this request');
      if (!('ttl' in body)) throw invalidParam('ttl', 'is required: a duration, or null for no expiry');
      if (body.prefix !== undefined && body.tags !== undefined) {
        throw validationProblem([{ name: 'body', reason: 'give at most one of prefix and tags' }]);
      }
      const ttl = parseTtlOrNone(body.ttl, 'ttl') ?? null;
      const filter = (body.prefix !== undefined ? { prefix: body.prefix } : body.tags !== undefined ? { tags: body.tags } : undefined) as
        | ExpireManyFilter
        | undefined;
      // Expiries change on an unknown set of keys: this process's local copies of the namespace go (./local-entries.ts).
      const updated = await deps.localEntries.writing(ns, 'all', () => deps.port.expireMany(ns, ttl, filter));
      return c.json({ updated }, 200);
    },
  );

  return router;
}
