/**
 * Entries: PUT/GET/HEAD/DELETE/PATCH /v1/cache/{ns}/{key}. Values are raw
 * bytes. The key is the rest of the path (see ../path-key.ts), so these
 * handlers are registered on a wildcard and documented via registerPath.
 */
import { isUtf8 } from 'node:buffer';
import { z } from '@hono/zod-openapi';
import type { SetOptions, WriteCondition } from '../../core/port.js';
import { readValueBytes } from '../body.js';
import { asObject, readJson } from '../json-body.js';
import { createRouter, type AppContext, type AppDeps } from '../context.js';
import { entryAnswer, entryBody, readEntry } from '../entry-read.js';
import { namespacedKey } from '../path-key.js';
import { HttpProblem, invalidParam } from '../problem.js';
import { parseEtagList, parseTtlOrNone, quoteEtag } from '../fields.js';
import { problemResponses, keyParams, TtlSchema } from './openapi-shared.js';

/** If-None-Match / If-Match on a write → the port's condition. */
function writeCondition(c: AppContext): WriteCondition {
  const ifNoneMatch = c.req.header('if-none-match');
  const ifMatch = c.req.header('if-match');
  if (ifNoneMatch !== undefined && ifMatch !== undefined) throw invalidParam('If-Match', 'cannot be combined with If-None-Match');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw invalidParam('If-None-Match', 'on a write only * (write if absent) is supported');
    return 'absent';
  }
  if (ifMatch !== undefined) {
    // Only a bare `*` means "any entry"; a quoted `"*"` is an entity tag like any other.
    if (ifMatch.trim() === '*') return 'present';
    const tags = parseEtagList(ifMatch, 'If-Match');
    if (tags.length !== 1) throw invalidParam('If-Match', 'give exactly one entity tag');
    if (/^W\//.test(ifMatch.trim())) throw invalidParam('If-Match', 'weak entity tags cannot be used for a write');
    return { etag: tags[0] as string };
  }
  return 'always';
}

/**
 * `Cache-Tag: a, b` → ['a', 'b']; absent → [] (a write without tags clears them).
 * Each tag is percent-decoded UTF-8, and raw UTF-8 is accepted too: Node hands
 * header bytes over as latin1, so they are turned back into bytes first.
 */
function cacheTags(c: AppContext): string[] {
  const header = c.req.header('cache-tag');
  if (header === undefined) return [];
  const bytes = Buffer.from(header, 'latin1');
  if (!isUtf8(bytes)) throw invalidParam('Cache-Tag', 'is not valid UTF-8');
  return bytes
    .toString('utf8')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((tag) => {
      try {
        return decodeURIComponent(tag);
      } catch {
        throw invalidParam('Cache-Tag', `${JSON.stringify(tag)} is not valid percent-encoded UTF-8 (write % as %25)`);
      }
    });
}

function ttlQuery(c: AppContext): number | null | undefined {
  const values = c.req.queries('ttl');
  if (values === undefined) return undefined;
  if (values.length > 1) throw invalidParam('ttl', 'give ttl at most once');
  return parseTtlOrNone(values[0], 'ttl');
}

export function entryRoutes(deps: AppDeps) {
  const router = createRouter();
  const path = '/cache/:ns/*';

  router.put(path, async (c) => {
    const { ns, key } = namespacedKey(c, 'cache', 'write');
    const options: SetOptions = { condition: writeCondition(c), tags: cacheTags(c), ttl: ttlQuery(c) };
    const contentType = c.req.header('content-type');
    if (contentType !== undefined && contentType !== '') options.contentType = contentType;
    const value = await readValueBytes(c, deps.config.maxValueBytes);
    const result = await deps.localEntries.writing(ns, [key], () => deps.port.set(ns, key, value, options));
    if (!result.written)
      throw new HttpProblem(
        412,
        'precondition-failed',
        'the write condition (If-Match / If-None-Match) does not hold; nothing was written',
      );
    return c.body(null, result.created ? 201 : 204, { etag: quoteEtag(result.etag) });
  });

  // Also serves HEAD (Hono answers HEAD with the GET handler, minus the body). The plain common case of both is
  // answered before Hono by ../fast-entry-read.ts, with the same pieces (../entry-read.ts).
  router.get(path, async (c) => {
    const { ns, key } = namespacedKey(c, 'cache', 'read');
    const entry = await readEntry(deps, ns, key);
    const { notModified, headers } = entryAnswer(entry, c.req.header('if-none-match'));
    if (notModified) return c.body(null, 304, headers);
    // A Response with a plain header object, not c.body(): with more than one header Hono builds a WHATWG Headers
    // the Node server then converts back (about 3% of a cached GET's CPU, profiled).
    return new Response(entryBody(entry), { status: 200, headers });
  });

  router.delete(path, async (c) => {
    const { ns, key } = namespacedKey(c, 'cache', 'write');
    if (!(await deps.localEntries.writing(ns, [key], () => deps.port.delete(ns, key))))
      throw new HttpProblem(404, 'not-found', `no entry ${JSON.stringify(key)} in namespace ${ns}`);
    return c.body(null, 204);
  });

  router.patch(path, async (c) => {
    const { ns, key } = namespacedKey(c, 'cache', 'write');
    const body = asObject(await readJson(c));
    if (!('ttl' in body)) throw invalidParam('ttl', 'is required: a duration, or null for no expiry');
    const extra = Object.keys(body).filter((k) => k !== 'ttl');
    if (extra.length > 0) throw invalidParam(extra[0] as string, 'is not a field of this request');
    const ttl = parseTtlOrNone(body.ttl, 'ttl') ?? null;
    if (!(await deps.localEntries.writing(ns, [key], () => deps.port.expire(ns, key, ttl))))
      throw new HttpProblem(404, 'not-found', `no entry ${JSON.stringify(key)} in namespace ${ns}`);
    return c.body(null, 204);
  });

  documentEntries(router);
  return router;
}

function documentEntries(router: ReturnType<typeof createRouter>): void {
  const registry = router.openAPIRegistry;
  const docPath = '/cache/{ns}/{key}';
  const etagHeader = { ETag: { description: 'Quoted entity tag; changes on every write', schema: { type: 'string' as const } } };
  const bytes = z.string().openapi({ format: 'binary' });
  registry.registerPath({
    method: 'put',
    path: docPath,
    tags: ['entries'],
    summary: 'Store a value (raw bytes)',
    description:
      'The body is stored as-is with its Content-Type. `ttl` query: duration or `none`; omitted → namespace default. ' +
      '`Cache-Tag: a, b` sets tags (a write without it clears them; each tag is percent-decoded UTF-8, so `caf%C3%A9` and raw `café` ' +
      'are one tag; GET returns them percent-encoded). `If-None-Match: *` writes only if absent, ' +
      '`If-Match: *` only if present, `If-Match: "<etag>"` only if the ETag matches. The key is the rest of the path ' +
      '(`/` allowed; `%2F` decodes to `/`); empty, `.` and `..` segments and NUL are rejected.',
    request: {
      params: keyParams,
      query: z.object({ ttl: TtlSchema.optional() }),
      headers: z.object({
        'cache-tag': z.string().optional(),
        'if-match': z.string().optional(),
        'if-none-match': z.string().optional(),
      }),
      body: { content: { 'application/octet-stream': { schema: bytes } } },
    },
    responses: {
      201: { description: 'Created', headers: etagHeader },
      204: { description: 'Replaced', headers: etagHeader },
      ...problemResponses(400, 401, 403, 412, 413, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: docPath,
    tags: ['entries'],
    summary: 'Read a value',
    description:
      'HEAD answers the same without a body. `Cache-Control: max-age` is the whole seconds left (rounded down). ' +
      "In a namespace configured with `localCache` the answer may come from the server process's memory: the same status, " +
      'body and headers, never older than `localCache.ttl`, and a write through this server is seen at once.',
    request: { params: keyParams, headers: z.object({ 'if-none-match': z.string().optional() }) },
    responses: {
      200: {
        description: 'The stored bytes with their Content-Type',
        headers: {
          ...etagHeader,
          'Cache-Control': { description: 'max-age=<seconds left>, when the entry expires', schema: { type: 'string' } },
          'Expires-At': { description: 'ISO 8601 UTC expiry with ms precision, when the entry expires', schema: { type: 'string' } },
          'Cache-Tag': { description: 'The entry tags', schema: { type: 'string' } },
        },
        content: { 'application/octet-stream': { schema: bytes } },
      },
      304: { description: 'If-None-Match matched' },
      ...problemResponses(400, 401, 403, 404, 503),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: docPath,
    tags: ['entries'],
    summary: 'Delete an entry',
    request: { params: keyParams },
    responses: { 204: { description: 'Deleted' }, ...problemResponses(400, 401, 403, 404, 503) },
  });
  registry.registerPath({
    method: 'patch',
    path: docPath,
    tags: ['entries'],
    summary: 'Change the expiry',
    request: {
      params: keyParams,
      body: { required: true, content: { 'application/json': { schema: z.object({ ttl: TtlSchema.nullable() }) } } },
    },
    responses: { 204: { description: 'Updated' }, ...problemResponses(400, 401, 403, 404, 415, 503) },
  });
}
