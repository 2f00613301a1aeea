/**
 * Batch: POST /v1/batch {"ops": [...]} → {"results": [...]} in request order.
 * A pipeline, not a transaction: every op is validated and authorized on its
 * own (400/403/413 results), and the valid ones run in order. Consecutive
 * gets (and sets of distinct keys) in one namespace share one round trip.
 *
 * The answer is bounded: once the values returned (as JSON text) reach
 * CACHE_MAX_BATCH_RESPONSE_BYTES, every further get is a per-op 413, so an
 * answer is at most that bound plus one value. Gets are fetched in chunks of
 * distinct keys, so a batch reading one large value many times fetches it once.
 */
import { z } from '@hono/zod-openapi';
import type { CachePort, SetManyItem, WriteCondition } from '../../core/port.js';
import { BackendUnavailableError, LimitExceededError } from '../../core/errors.js';
import { toValueBytes, validateContentType, validateKey, validateNamespace, validateTags } from '../../core/validation.js';
import { countLookup } from '../../metrics.js';
import { allowsNamespace } from '../auth.js';
import { asObject, readJson } from '../json-body.js';
import { createRouter, requireScope, type AppDeps } from '../context.js';
import { namespaceLabels } from '../namespace-labels.js';
import { HttpProblem, invalidParam, toProblem } from '../problem.js';
import { parseBy, parseEtagList, parseTtlOrNone, quoteEtag } from '../fields.js';
import { bytesToJson, integerToJson } from '../values.js';
import { DurationSchema, problemResponses } from './openapi-shared.js';

type Op =
  | { kind: 'get'; ns: string; key: string; meta: boolean }
  | { kind: 'delete'; ns: string; key: string }
  | { kind: 'set'; ns: string; item: SetManyItem }
  | { kind: 'incr'; ns: string; key: string; by: bigint; ttl: number | null | undefined };

export interface OpResult {
  status: number;
  value?: string | number;
  encoding?: 'base64';
  etag?: string;
  /** get with `meta: true`: the entry's metadata, as the single-key GET's headers say it. */
  contentType?: string;
  tags?: string[];
  expiresAt?: string | null;
  detail?: string;
  'invalid-params'?: { name: string; reason: string }[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeValue(value: unknown, encoding: unknown, field: string, maxBytes: number): Buffer {
  if (typeof value !== 'string')
    throw invalidParam(`${field}.value`, 'is required: a string (UTF-8 text, or base64 with "encoding": "base64")');
  if (encoding === undefined || encoding === 'utf8') return toValueBytes(value, maxBytes, `${field}.value`);
  if (encoding !== 'base64') throw invalidParam(`${field}.encoding`, 'must be "utf8" or "base64"');
  if (!BASE64.test(value)) throw invalidParam(`${field}.value`, 'is not valid base64');
  return toValueBytes(Buffer.from(value, 'base64'), maxBytes, `${field}.value`);
}

/** The fields each kind of op takes; any other field is that op's 400. */
const OP_FIELDS: Record<Op['kind'], readonly string[]> = {
  get: ['op', 'ns', 'key', 'meta'],
  delete: ['op', 'ns', 'key'],
  incr: ['op', 'ns', 'key', 'by', 'ttl'],
  set: ['op', 'ns', 'key', 'value', 'encoding', 'ttl', 'tags', 'contentType', 'ifMatch', 'ifNoneMatch'],
};

/** Validates one op into a plan; throws a problem that becomes this op's result. */
function planOp(raw: unknown, i: number, deps: AppDeps, mayAccess: (ns: string) => boolean): Op {
  const field = `ops[${i}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidParam(field, 'must be an object');
  const op = raw as Record<string, unknown>;
  if (op.op !== 'get' && op.op !== 'set' && op.op !== 'delete' && op.op !== 'incr') {
    throw invalidParam(`${field}.op`, 'must be one of get, set, delete, incr');
  }
  const unknown = Object.keys(op).find((name) => !OP_FIELDS[op.op as Op['kind']].includes(name));
  if (unknown !== undefined) throw invalidParam(`${field}.${unknown}`, `is not a field of a ${op.op} operation`);
  validateNamespace(op.ns, `${field}.ns`);
  // A JSON key is never a path: the port's rules apply, so keys with `.`, `..` or empty segments
  // (which the path routes cannot address) are still readable and writable here, as through the library.
  validateKey(op.key, `${field}.key`);
  const { ns, key } = { ns: op.ns, key: op.key };
  if (!mayAccess(ns)) throw new HttpProblem(403, 'forbidden', `this token may not access namespace ${JSON.stringify(ns)}`);
  switch (op.op) {
    case 'get':
      if (op.meta !== undefined && typeof op.meta !== 'boolean') throw invalidParam(`${field}.meta`, 'must be true or false');
      return { kind: 'get', ns, key, meta: op.meta === true };
    case 'delete':
      return { kind: 'delete', ns, key };
    case 'incr':
      return { kind: 'incr', ns, key, by: parseBy(op.by, `${field}.by`), ttl: parseTtlOrNone(op.ttl, `${field}.ttl`) };
    case 'set': {
      const value = decodeValue(op.value, op.encoding, field, deps.config.maxValueBytes);
      const item: SetManyItem = { key, value, condition: 'always' };
      const ttl = parseTtlOrNone(op.ttl, `${field}.ttl`);
      if (ttl !== undefined) item.ttl = ttl;
      if (op.tags !== undefined) {
        validateTags(op.tags, `${field}.tags`);
        item.tags = op.tags;
      }
      if (op.contentType !== undefined) {
        validateContentType(op.contentType, `${field}.contentType`);
        item.contentType = op.contentType;
      }
      item.condition = batchCondition(op.ifMatch, op.ifNoneMatch, field);
      return { kind: 'set', ns, item };
    }
  }
}

/** `ifNoneMatch: "*"`, `ifMatch: "*"` or `ifMatch: "\"<etag>\""`: the conditions of the single-key PUT's headers. */
function batchCondition(ifMatch: unknown, ifNoneMatch: unknown, field: string): WriteCondition {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) throw invalidParam(`${field}.ifMatch`, 'cannot be combined with ifNoneMatch');
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== '*') throw invalidParam(`${field}.ifNoneMatch`, 'only "*" (write if absent) is supported');
    return 'absent';
  }
  if (ifMatch === undefined) return 'always';
  if (typeof ifMatch !== 'string') throw invalidParam(`${field}.ifMatch`, 'must be "*" or one quoted entity tag');
  // Only a bare `*` means "any entry"; a quoted `"*"` is an entity tag like any other.
  if (ifMatch.trim() === '*') return 'present';
  const tags = parseEtagList(ifMatch, `${field}.ifMatch`);
  if (tags.length !== 1 || /^W\//.test(ifMatch.trim())) throw invalidParam(`${field}.ifMatch`, 'give exactly one strong entity tag');
  return { etag: tags[0] as string };
}

function errorResult(error: unknown): OpResult {
  const problem = toProblem(error);
  if (!problem) throw error;
  const body = problem.toBody();
  const result: OpResult = { status: body.status, detail: body.detail };
  if (body['invalid-params']) result['invalid-params'] = body['invalid-params'];
  return result;
}

/** What one batch may still return, in bytes of values as JSON text (CACHE_MAX_BATCH_RESPONSE_BYTES), and how many keys one fetch reads. */
interface AnswerBudget {
  bytesLeft: number;
  readonly limit: number;
  /** Distinct keys per getMany: bounds the values held at once to about max(budget, 64 values). */
  readonly fetchKeys: number;
}

function answerBudget(deps: AppDeps): AnswerBudget {
  const limit = deps.config.maxBatchResponseBytes;
  return { bytesLeft: limit, limit, fetchKeys: Math.max(64, Math.floor(limit / deps.config.maxValueBytes)) };
}

function overBudget(budget: AnswerBudget): OpResult {
  return {
    status: 413,
    detail:
      `this batch answer already holds ${budget.limit - budget.bytesLeft} bytes of values (as JSON text), the limit is ${budget.limit} ` +
      '(CACHE_MAX_BATCH_RESPONSE_BYTES): read this key in another request',
  };
}

/**
 * What a value costs in the answer: its JSON text, escapes and base64 included. Counting the stored bytes
 * let 1 byte of a control character become 6 (`\u0001`), an answer six times the bound.
 */
function answerBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** Runs a group of consecutive gets (one namespace): one round trip per chunk of distinct keys, until the budget is spent. */
async function runGets(deps: AppDeps, ns: string, gets: { key: string; meta: boolean }[], budget: AnswerBudget): Promise<OpResult[]> {
  const { port } = deps;
  const keys = gets.map((get) => get.key);
  const results: OpResult[] = [];
  const label = namespaceLabels(port).label(ns);
  let next = 0;
  while (next < keys.length && budget.bytesLeft > 0) {
    const chunk = new Map<string, number>();
    let end = next;
    for (; end < keys.length && (chunk.size < budget.fetchKeys || chunk.has(keys[end] as string)); end++) {
      if (!chunk.has(keys[end] as string)) chunk.set(keys[end] as string, chunk.size);
    }
    // Through this process's local cache when the namespace has one.
    const entries = await deps.localEntries.getMany(ns, [...chunk.keys()]);
    for (; next < end; next++) {
      if (budget.bytesLeft <= 0) break;
      const entry = entries[chunk.get(keys[next] as string) as number];
      countLookup(label, entry !== undefined);
      if (!entry) {
        results.push({ status: 404 });
        continue;
      }
      const json = bytesToJson(entry.value);
      budget.bytesLeft -= answerBytes(json.value);
      if (!(gets[next] as { meta: boolean }).meta) {
        results.push({ status: 200, ...json });
        continue;
      }
      results.push({
        status: 200,
        ...json,
        etag: quoteEtag(entry.etag),
        contentType: entry.contentType,
        tags: entry.tags,
        expiresAt: entry.expiresAt === null ? null : new Date(entry.expiresAt).toISOString(),
      });
    }
  }
  while (results.length < keys.length) results.push(overBudget(budget));
  return results;
}

async function runSets(port: CachePort, ns: string, items: SetManyItem[]): Promise<OpResult[]> {
  const results = await port.setMany(ns, items);
  return results.map((r) => (r.written ? { status: r.created ? 201 : 204, etag: quoteEtag(r.etag) } : { status: 412 }));
}

async function runSingle(deps: AppDeps, op: Op, budget: AnswerBudget): Promise<OpResult> {
  const { port } = deps;
  switch (op.kind) {
    case 'delete':
      return { status: (await port.delete(op.ns, op.key)) ? 204 : 404 };
    case 'incr': {
      const value = await port.increment(op.ns, op.key, op.by, op.ttl === undefined ? {} : { ttl: op.ttl });
      return { status: 200, value: integerToJson(value) };
    }
    case 'get':
      return (await runGets(deps, op.ns, [op], budget))[0] as OpResult;
    case 'set':
      return (await runSets(port, op.ns, [op.item]))[0] as OpResult;
  }
}

/** Index ranges [start, end) of ops that can share one round trip. */
function groupEnd(ops: (Op | undefined)[], start: number): number {
  const first = ops[start];
  if (!first || (first.kind !== 'get' && first.kind !== 'set')) return start + 1;
  const keys = new Set<string>();
  let end = start;
  for (; end < ops.length; end++) {
    const op = ops[end];
    if (!op || op.kind !== first.kind || op.ns !== first.ns) break;
    const key = op.kind === 'set' ? op.item.key : op.kind === 'get' ? op.key : '';
    // A set group must not write one key twice in a single statement.
    if (op.kind === 'set' && keys.has(key)) break;
    keys.add(key);
  }
  return end;
}

/** A group of ops; a writing group then drops this process's local copies of its keys (./local-entries.ts). */
async function runGroup(deps: AppDeps, group: Op[], budget: AnswerBudget): Promise<OpResult[]> {
  const first = group[0] as Op;
  if (first.kind === 'get') return runOps(deps, group, budget);
  const keys = group.map((op) => (op.kind === 'set' ? op.item.key : op.key));
  return deps.localEntries.writing(first.ns, keys, () => runOps(deps, group, budget));
}

async function runOps(deps: AppDeps, group: Op[], budget: AnswerBudget): Promise<OpResult[]> {
  const first = group[0] as Op;
  const { port } = deps;
  if (group.length === 1) return [await runSingle(deps, first, budget)];
  if (first.kind === 'get') return runGets(deps, first.ns, group as { key: string; meta: boolean }[], budget);
  return runSets(
    port,
    first.ns,
    group.map((op) => (op as { item: SetManyItem }).item),
  );
}

export function batchRoutes(deps: AppDeps) {
  const router = createRouter();

  router.post('/batch', async (c) => {
    const principal = requireScope(c, 'write');
    const body = asObject(await readJson(c));
    const unknown = Object.keys(body).find((name) => name !== 'ops');
    if (unknown !== undefined) throw invalidParam(unknown, 'is not a field of this request');
    if (!Array.isArray(body.ops)) throw invalidParam('ops', 'is required: an array of operations');
    const rawOps: unknown[] = body.ops;
    if (rawOps.length > deps.config.maxBatch) throw new LimitExceededError('ops', deps.config.maxBatch, rawOps.length);

    const results: (OpResult | undefined)[] = new Array(rawOps.length);
    const plans: (Op | undefined)[] = rawOps.map((raw, i) => {
      try {
        return planOp(raw, i, deps, (ns) => allowsNamespace(principal, ns));
      } catch (error) {
        results[i] = errorResult(error);
        return undefined;
      }
    });

    const budget = answerBudget(deps);
    for (let start = 0; start < plans.length; ) {
      if (!plans[start]) {
        start++;
        continue;
      }
      const end = groupEnd(plans, start);
      const group = plans.slice(start, end) as Op[];
      try {
        const groupResults = await runGroup(deps, group, budget);
        groupResults.forEach((r, j) => (results[start + j] = r));
      } catch (error) {
        // An unreachable backend fails the whole request (503), not op by op.
        if (error instanceof BackendUnavailableError) throw error;
        const failed = errorResult(error);
        for (let j = start; j < end; j++) results[j] = failed;
      }
      start = end;
    }
    return c.json({ results: results as OpResult[] }, 200);
  });

  const OpSchema = z
    .object({
      op: z.enum(['get', 'set', 'delete', 'incr']),
      ns: z.string(),
      key: z.string(),
      value: z.string().optional().openapi({ description: 'set: the value, UTF-8 text or base64' }),
      encoding: z.enum(['utf8', 'base64']).optional(),
      meta: z.boolean().optional().openapi({ description: 'get: also return etag, contentType, tags and expiresAt (default false)' }),
      ttl: z.union([DurationSchema, z.literal('none'), z.null()]).optional(),
      by: z.union([z.number().int(), z.string()]).optional().openapi({ description: 'incr: default 1' }),
      tags: z.array(z.string()).optional().openapi({ description: 'set: tags (as Cache-Tag)' }),
      contentType: z.string().optional().openapi({ description: 'set: the stored Content-Type' }),
      ifMatch: z.string().optional().openapi({ description: 'set: as If-Match, `*` (only if present) or `"<etag>"` (compare-and-set)' }),
      ifNoneMatch: z.literal('*').optional().openapi({ description: 'set: as If-None-Match: `*` writes only if absent' }),
    })
    .strict()
    .openapi({
      description:
        'get and delete take op, ns, key (get also meta: true for etag, contentType, tags and expiresAt in its result); incr adds by, ttl; set adds value, encoding, ttl, tags, contentType. ' +
        'set may carry ifMatch / ifNoneMatch (the If-Match / If-None-Match of the single-key PUT; a failed condition is a 412 result). ' +
        "Any other field is this op's 400.",
    });
  const ResultSchema = z.object({
    status: z
      .number()
      .int()
      .openapi({
        description:
          'As the single-key route: get 200/404, set 201/204, delete 204/404, incr 200/409; 400/403/413 for an invalid or forbidden op; ' +
          '413 for a get once the answer holds CACHE_MAX_BATCH_RESPONSE_BYTES (default 16 MiB) of values',
      }),
    value: z.union([z.string(), z.number()]).optional(),
    encoding: z.literal('base64').optional().openapi({ description: 'Present when the value is not valid UTF-8' }),
    etag: z.string().optional().openapi({ description: 'set, and get with meta: the quoted ETag' }),
    contentType: z.string().optional().openapi({ description: 'get with meta: the stored Content-Type' }),
    tags: z.array(z.string()).optional().openapi({ description: 'get with meta: the entry tags' }),
    expiresAt: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: 'get with meta: ISO 8601 UTC expiry (ms precision), or null for none' }),
    detail: z.string().optional(),
    'invalid-params': z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
  });
  router.openAPIRegistry.registerPath({
    method: 'post',
    path: '/batch',
    tags: ['batch'],
    summary: 'Run up to CACHE_MAX_BATCH (1000) operations as a pipeline',
    description:
      'Operations are independent and run in order; an invalid or forbidden op gets its own 400/403 result and the others still run. ' +
      'Values are returned as UTF-8 when valid, else base64 with "encoding": "base64". More ops than the limit → 413. ' +
      'Once the values returned (counted as JSON text, escapes and base64 included) reach CACHE_MAX_BATCH_RESPONSE_BYTES ' +
      '(default 16 MiB), every further get is a per-op 413. ' +
      'JSON nested deeper than 32 levels anywhere in the body fails the whole request (400).',
    request: { body: { required: true, content: { 'application/json': { schema: z.object({ ops: z.array(OpSchema) }).strict() } } } },
    responses: {
      200: {
        description: 'One result per op, in order',
        content: { 'application/json': { schema: z.object({ results: z.array(ResultSchema) }) } },
      },
      ...problemResponses(400, 401, 403, 413, 415, 503),
    },
  });
  return router;
}
