/**
 * Namespaces: configuration, stats, invalidation and clearing.
 * Reading needs `read`; everything that changes needs `admin`. A token
 * confined by namespace patterns sees only its namespaces in the list.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { LimitExceededError } from '../../core/errors.js';
import { DEFAULT_NAMESPACE_LIST_LIMIT, MAX_NAMESPACE_LIST_LIMIT } from '../../core/namespace-list.js';
import { DEFAULT_LOCAL_CACHE_TTL_MS, MAX_LOCAL_CACHE_ENTRIES } from '../../core/defaults.js';
import type { LocalCacheConfig, NamespaceConfig, NamespaceFilter } from '../../core/port.js';
import { validateNamespace, validateNamespaceConfig, validatePrefix, validateTags } from '../../core/validation.js';
import { authorize, createRouter, requireScope, type AppDeps } from '../context.js';
import { asObject, jsonBody, readJson } from '../json-body.js';
import { namespaceLabels } from '../namespace-labels.js';
import { validateHttpKey } from '../path-key.js';
import { invalidParam, validationProblem } from '../problem.js';
import { parseDurationField, parseTtlOrNone } from '../fields.js';
import { namespaceToJson } from '../values.js';
import { DurationSchema, NamespaceParam, problemResponses } from './openapi-shared.js';

const ConfigSchema = z
  .object({
    defaultTtl: z.union([DurationSchema, z.null()]).openapi({ description: 'Duration, or null for no expiry; read back as e.g. "1h"' }),
    maxEntries: z.number().int().positive().nullable(),
    maxBytes: z.number().int().positive().nullable(),
    eviction: z.enum(['lru', 'none']),
    durable: z.boolean().openapi({ description: 'Postgres: keep entries in logged (crash-safe) storage' }),
    localCache: z
      .object({
        maxEntries: z.number().int().min(1).max(MAX_LOCAL_CACHE_ENTRIES),
        ttl: DurationSchema.optional().openapi({ description: 'At most 1h; default 5s; read back normalised (e.g. "5s")' }),
      })
      .strict()
      .nullable()
      .openapi({
        description:
          'Null (default): off. Otherwise every server process keeps up to maxEntries recently read entries in memory for at most ttl; ' +
          'every change from any writer invalidates them (see the HTTP guide, "Local caches")',
      }),
  })
  .openapi('NamespaceConfig');

const StatsSchema = z
  .object({
    entries: z.number().int(),
    bytes: z.number().int(),
    hits: z.number().int(),
    misses: z.number().int(),
    expiredPending: z.number().int(),
    localHits: z.number().int().openapi({ description: "Reads answered from server processes' local caches (not in hits)" }),
  })
  .openapi('NamespaceStats', { description: 'May be a few seconds stale (at most 5 s)' });

const NamespaceSchema = z
  .object({ name: z.string(), configured: z.boolean(), config: ConfigSchema, stats: StatsSchema })
  .openapi('Namespace');

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const params = z.object({ ns: NamespaceParam });
/** Most reads one local-hits report may add (a client flushes about once a second). */
export const MAX_LOCAL_HITS_REPORT = 1_000_000_000;
const NS = { namespace: 'ns' } as const;

const ListQuery = z.object({
  limit: z
    .string()
    .regex(/^[1-9][0-9]{0,5}$/, 'must be a positive integer')
    .optional()
    .openapi({ description: `Most namespaces per page (default ${DEFAULT_NAMESPACE_LIST_LIMIT}, at most ${MAX_NAMESPACE_LIST_LIMIT})` }),
  cursor: z.string().optional().openapi({ description: 'The `cursor` of the previous page' }),
  name: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .openapi({ description: 'Only these namespaces (repeatable; combined with `prefix` as "either")' }),
  prefix: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .openapi({ description: 'Only namespaces whose name starts with this literal prefix (repeatable)' }),
});

const asList = (value: string | string[] | undefined): string[] | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? [value] : value;

/**
 * What a list may return: the token's patterns narrowed by the request's
 * `name`/`prefix` filter (when it gives one). Both are unions of exact names
 * and prefixes, so their intersection is one too.
 */
export function intersectFilters(token: NamespaceFilter | undefined, request: NamespaceFilter | undefined): NamespaceFilter | undefined {
  if (request === undefined) return token;
  if (token === undefined) return request;
  const allowedBy = (f: NamespaceFilter, name: string) => f.names.includes(name) || f.prefixes.some((p) => name.startsWith(p));
  const names = new Set([...request.names.filter((n) => allowedBy(token, n)), ...token.names.filter((n) => allowedBy(request, n))]);
  const prefixes = new Set<string>();
  for (const a of request.prefixes)
    for (const b of token.prefixes) {
      if (a.startsWith(b)) prefixes.add(a);
      else if (b.startsWith(a)) prefixes.add(b);
    }
  return { names: [...names], prefixes: [...prefixes] };
}

/** A token's namespace patterns (`name`, `prefix*`, `*`) as a list filter; undefined when it sees every namespace. */
function namespaceFilterOf(patterns: readonly string[]): NamespaceFilter | undefined {
  if (patterns.includes('*')) return undefined;
  return {
    names: patterns.filter((p) => !p.endsWith('*')),
    prefixes: patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1)),
  };
}

/** `localCache` as given over HTTP: null, or `{maxEntries, ttl?}` with ttl a duration (default 5s); the port checks the ranges. */
function parseLocalCache(value: unknown): LocalCacheConfig | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value as null;
  const given = value as Record<string, unknown>;
  if (given.ttl === undefined) return { ...given, ttl: DEFAULT_LOCAL_CACHE_TTL_MS } as LocalCacheConfig;
  const ttl = parseDurationField(given.ttl, 'localCache.ttl');
  return { ...given, ttl } as LocalCacheConfig;
}

/** A loosely typed body so validation errors come from our validators, with our field names. */
const LooseObject = z.record(z.string(), z.unknown());

export function namespaceRoutes(deps: AppDeps) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/namespaces',
      tags: ['namespaces'],
      summary: 'Namespaces that are configured or hold entries (only those the token may access), one page at a time',
      description:
        '`name` and `prefix` (each repeatable) narrow the list to those names and name prefixes; without either, every namespace the token may access is listed.',
      request: { query: ListQuery },
      responses: {
        200: json(
          z.object({
            namespaces: z.array(NamespaceSchema),
            cursor: z.string().nullable().openapi({ description: 'Pass as `cursor` for the next page; null on the last page' }),
          }),
          'One page of namespaces, in name order (a page may hold fewer than `limit`)',
        ),
        ...problemResponses(400, 401, 403, 503),
      },
    }),
    async (c) => {
      const principal = requireScope(c, 'read');
      const query = c.req.valid('query');
      // c.req.queries: a repeated parameter arrives whole (the validated query keeps one value).
      const names = c.req.queries('name') ?? asList(query.name);
      const prefixes = c.req.queries('prefix') ?? asList(query.prefix);
      const requested = names === undefined && prefixes === undefined ? undefined : { names: names ?? [], prefixes: prefixes ?? [] };
      const page = await deps.port.list({
        limit: query.limit === undefined ? undefined : Number(query.limit),
        cursor: query.cursor,
        only: intersectFilters(namespaceFilterOf(principal.namespaces), requested),
      });
      return c.json({ namespaces: page.namespaces.map(namespaceToJson), cursor: page.cursor }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/namespaces/{ns}',
      tags: ['namespaces'],
      summary: 'One namespace (an unused one answers with the defaults and zero stats)',
      middleware: authorize('read', NS),
      request: { params },
      responses: { 200: json(NamespaceSchema, 'The namespace'), ...problemResponses(400, 401, 403, 503) },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      return c.json(namespaceToJson(await deps.port.describe(ns)), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'put',
      path: '/namespaces/{ns}',
      tags: ['namespaces'],
      summary: 'Configure a namespace (full config; omitted fields take the defaults)',
      description:
        'Changing `durable` moves existing entries. `localCache` ({maxEntries, ttl?}, ttl default 5s, at most 1h) lets every ' +
        'server process answer reads of the namespace from memory, invalidated by the change feed; other processes apply a ' +
        'change of configuration within about a second.',
      middleware: [authorize('admin', NS), jsonBody()],
      request: {
        params,
        body: { required: true, content: { 'application/json': { schema: ConfigSchema.partial().strict() } } },
      },
      responses: {
        200: json(NamespaceSchema, 'Changed'),
        201: json(NamespaceSchema, 'First configured'),
        ...problemResponses(400, 401, 403, 415, 503),
      },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      const body = LooseObject.parse(await readJson(c));
      const config: Partial<NamespaceConfig> = { ...body } as Partial<NamespaceConfig>;
      if ('defaultTtl' in body) {
        if (body.defaultTtl === 'none') throw invalidParam('defaultTtl', 'use null for no expiry');
        config.defaultTtl = parseTtlOrNone(body.defaultTtl, 'defaultTtl') ?? null;
      }
      if ('localCache' in body) config.localCache = parseLocalCache(body.localCache);
      validateNamespaceConfig(config);
      const result = await deps.port.configure(ns, config);
      deps.localEntries.reconfigured(ns);
      namespaceLabels(deps.port).configuredNow(ns);
      const info = await deps.port.describe(ns);
      return c.json(namespaceToJson({ ...info, config: result.config }), result.created ? 201 : 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/namespaces/{ns}',
      tags: ['namespaces'],
      summary: 'Remove configuration and entries (204 also when nothing was there)',
      middleware: authorize('admin', NS),
      request: { params },
      responses: { 204: { description: 'Dropped' }, ...problemResponses(400, 401, 403, 503) },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      await deps.localEntries.writing(ns, 'all', () => deps.port.drop(ns));
      deps.localEntries.reconfigured(ns);
      namespaceLabels(deps.port).droppedNow(ns);
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/namespaces/{ns}/local-hits',
      tags: ['namespaces'],
      summary: 'Report reads a client answered from its own local cache (adds to stats.localHits)',
      description:
        'For clients that keep a local cache over this server (the HTTP adapter). The count is buffered and written with ' +
        "the server's own hit counters; a namespace that is neither configured nor holding entries counts nothing.",
      middleware: [authorize('write', NS), jsonBody()],
      request: {
        params,
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z
                .object({ count: z.number().int().min(1).max(MAX_LOCAL_HITS_REPORT).openapi({ example: 120 }) })
                .strict()
                .openapi({ example: { count: 120 } }),
            },
          },
        },
      },
      responses: { 204: { description: 'Counted' }, ...problemResponses(400, 401, 403, 415) },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      const body = asObject(await readJson(c));
      const unknown = Object.keys(body).find((k) => k !== 'count');
      if (unknown !== undefined) throw invalidParam(unknown, 'is not a field of this request');
      const count = body.count;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_LOCAL_HITS_REPORT) {
        throw invalidParam('count', `must be an integer from 1 to ${MAX_LOCAL_HITS_REPORT}`);
      }
      deps.port.countLocalHits(ns, count);
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/namespaces/{ns}/invalidate',
      tags: ['namespaces'],
      summary: 'Delete by literal prefix, by tags, or by keys (exactly one)',
      middleware: [authorize('admin', NS), jsonBody()],
      request: {
        params,
        body: {
          required: true,
          content: {
            'application/json': {
              schema: z
                .object({
                  prefix: z.string().optional().openapi({ description: 'Literal (no wildcards)', example: 'user:42:' }),
                  tags: z.array(z.string()).optional(),
                  keys: z.array(z.string()).optional(),
                })
                .strict()
                .openapi({ description: 'Exactly one of prefix, tags, keys' }),
            },
          },
        },
      },
      responses: {
        200: json(z.object({ deleted: z.number().int() }), 'Live entries deleted'),
        ...problemResponses(400, 401, 403, 413, 415, 503),
      },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      // The parsed object itself: a schema parse would drop an own `__proto__` key (or take it as the prototype).
      const body = asObject(await readJson(c));
      const given = ['prefix', 'tags', 'keys'].filter((k) => body[k] !== undefined);
      const unknown = Object.keys(body).filter((k) => !['prefix', 'tags', 'keys'].includes(k));
      if (unknown.length > 0) throw invalidParam(unknown[0] as string, 'is not a field of this request');
      if (given.length !== 1) {
        throw validationProblem([{ name: 'body', reason: 'give exactly one of prefix, tags, keys' }]);
      }
      let deleted: number;
      if (body.prefix !== undefined) {
        validatePrefix(body.prefix);
        const prefix = body.prefix;
        deleted = await deps.localEntries.writing(ns, 'all', () => deps.port.deleteByPrefix(ns, prefix));
      } else if (body.tags !== undefined) {
        validateTags(body.tags, 'tags', false);
        const tags = body.tags;
        deleted = await deps.localEntries.writing(ns, 'all', () => deps.port.invalidateTags(ns, tags));
      } else {
        const keys = body.keys;
        if (!Array.isArray(keys)) throw invalidParam('keys', 'must be an array of keys');
        if (keys.length === 0) throw invalidParam('keys', 'must name at least one key');
        if (keys.length > deps.config.maxBatch) throw new LimitExceededError('keys', deps.config.maxBatch, keys.length);
        keys.forEach((key, i) => validateHttpKey(key, `keys[${i}]`));
        deleted = await deps.localEntries.writing(ns, keys as string[], () => deps.port.deleteMany(ns, keys as string[]));
      }
      return c.json({ deleted }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/namespaces/{ns}/entries',
      tags: ['namespaces'],
      summary: 'Delete every entry of the namespace (configuration stays)',
      middleware: authorize('admin', NS),
      request: { params },
      responses: { 200: json(z.object({ deleted: z.number().int() }), 'Live entries deleted'), ...problemResponses(400, 401, 403, 503) },
    }),
    async (c) => {
      const { ns } = c.req.valid('param');
      validateNamespace(ns);
      return c.json({ deleted: await deps.localEntries.writing(ns, 'all', () => deps.port.clear(ns)) }, 200);
    },
  );

  return router;
}
