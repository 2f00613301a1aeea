/**
 * Finishing touches on the generated OpenAPI document, so a client generator
 * gets what it needs without every route declaration repeating it:
 * - an `operationId` on every operation (declared ones are kept; others are
 *   derived from method and path, e.g. `putCacheNsKey`, unique by construction);
 * - HEAD of an entry, which Hono answers from the GET handler;
 * - the Problem schema's `type` values, and a Problem example per status;
 * - request and response examples on every operation: declared ones are kept,
 *   a few are written out here (readiness 503 shows a failing status), the
 *   rest are derived from the schema.
 * Done once per document, in one place, additively: route modules stay as they are.
 */
import { problemType } from './problem.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  enum?: Json[];
  const?: Json;
  example?: Json;
  examples?: Json[];
  format?: string;
  minimum?: number;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  allOf?: SchemaObject[];
  description?: string;
  [extension: string]: unknown;
}

interface MediaType {
  schema?: SchemaObject;
  example?: Json;
  examples?: Record<string, { value: Json; summary?: string }>;
}

interface ResponseObject {
  description: string;
  content?: Record<string, MediaType>;
  headers?: Record<string, unknown>;
}

export interface OperationObject {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: unknown[];
  requestBody?: { content?: Record<string, MediaType>; required?: boolean };
  responses?: Record<string, ResponseObject>;
  [extension: string]: unknown;
}

export interface OpenApiDocument {
  paths?: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, SchemaObject> };
  [extension: string]: unknown;
}

export const HTTP_METHODS = ['get', 'head', 'put', 'post', 'patch', 'delete', 'options'] as const;

/** Every `type` a problem+json response of this API can carry (slugs of HttpProblem). */
export const PROBLEM_SLUGS = [
  'validation',
  'malformed-json',
  'json-too-deep',
  'unsupported-media-type',
  'body-too-large',
  'limit-exceeded',
  'not-an-integer',
  'integer-overflow',
  'unauthorized',
  'forbidden',
  'not-found',
  'session-not-found',
  'method-not-allowed',
  'not-acceptable',
  'precondition-failed',
  'lock-held',
  'lock-not-held',
  'lock-wrong-token',
  'backend-unavailable',
  'backend-timeout',
  'client-closed-request',
  'internal',
] as const;

const PROBLEM_EXAMPLE_SLUG: Record<string, { slug: string; title: string; detail: string }> = {
  '400': { slug: 'validation', title: 'Bad Request', detail: 'ttl: must be a positive whole number of seconds or a string like 250ms' },
  '401': { slug: 'unauthorized', title: 'Unauthorized', detail: 'send Authorization: Bearer YOUR_TOKEN with a configured token' },
  '403': { slug: 'forbidden', title: 'Forbidden', detail: 'this token may not access namespace "billing"' },
  '404': { slug: 'not-found', title: 'Not Found', detail: 'no entry users/user:42' },
  '406': {
    slug: 'not-acceptable',
    title: 'Not Acceptable',
    detail: 'this route answers only text/event-stream: send Accept: text/event-stream',
  },
  '409': { slug: 'lock-held', title: 'Conflict', detail: 'the lock is held by another owner' },
  '412': { slug: 'precondition-failed', title: 'Precondition Failed', detail: "the entry's ETag does not match If-Match" },
  '413': { slug: 'limit-exceeded', title: 'Content Too Large', detail: 'value: 2000000 bytes is over CACHE_MAX_VALUE_BYTES (1048576)' },
  '415': { slug: 'unsupported-media-type', title: 'Unsupported Media Type', detail: 'send Content-Type: application/json' },
  '503': { slug: 'backend-unavailable', title: 'Service Unavailable', detail: 'the backend is unavailable' },
};

/** Examples written out by hand where a derived one would mislead. Keyed `METHOD path`, then status (or `request`). */
const CURATED: Record<string, Record<string, Json>> = {
  'get /health/ready': {
    '200': { status: 'ok', backend: 'postgres', latencyMs: 1.3 },
    '503': { status: 'unavailable', backend: 'postgres', latencyMs: null },
  },
  'get /health': { '200': { status: 'ok' } },
  'post /v1/counters/{ns}/{key}': { request: { by: 1, ttl: '1d' }, '200': { value: 1 } },
  'post /v1/ratelimit': {
    request: { key: 'ip:203.0.113.7', limit: 100, window: '1m' },
    '200': { allowed: true, limit: 100, remaining: 99, resetMs: 60000, retryAfterMs: 0 },
  },
};

export function enrichOpenApi(doc: OpenApiDocument): OpenApiDocument {
  const schemas = doc.components?.schemas ?? {};
  describeProblemTypes(schemas);
  const paths = doc.paths ?? {};
  addHeadForEntries(paths);
  for (const [path, item] of Object.entries(paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      operation.operationId ??= deriveOperationId(method, path);
      addExamples(`${method} ${path}`, operation, schemas);
    }
  }
  return doc;
}

/** `put /v1/cache/{ns}/{key}` → `putCacheNsKey`. */
export function deriveOperationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((segment) => segment !== '' && segment !== 'v1')
    .flatMap((segment) => segment.replace(/[{}]/g, '').split(/[^A-Za-z0-9]+/))
    .filter((word) => word !== '');
  return method + words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join('');
}

function describeProblemTypes(schemas: Record<string, SchemaObject>): void {
  const problem = schemas.Problem;
  const typeProperty = problem?.properties?.type;
  if (!problem || !typeProperty) return;
  problem.properties = {
    ...problem.properties,
    type: {
      ...typeProperty,
      enum: PROBLEM_SLUGS.map((slug) => problemType(slug)),
      description: 'What went wrong, as a URN: urn:cacheport:problem:<slug>. Clients branch on this, not on `title` or `detail`.',
    },
  };
  problem.example = problemExample('400');
}

function problemExample(status: string): Json {
  const known = PROBLEM_EXAMPLE_SLUG[status] ?? { slug: 'internal', title: 'Error', detail: 'an internal error occurred' };
  return { type: problemType(known.slug), title: known.title, status: Number(status), detail: known.detail };
}

/** Hono answers HEAD of an entry from its GET handler: document it as such. */
function addHeadForEntries(paths: Record<string, Record<string, OperationObject>>): void {
  const item = paths['/v1/cache/{ns}/{key}'];
  const get = item?.get;
  if (!item || !get || item.head) return;
  const responses: Record<string, ResponseObject> = {};
  for (const [status, response] of Object.entries(get.responses ?? {})) {
    responses[status] = { description: response.description, ...(response.headers ? { headers: response.headers } : {}) };
  }
  item.head = {
    ...get,
    operationId: 'headCacheEntry',
    summary: 'Entry metadata only: the headers of GET (Content-Type, ETag, Cache-Control, Cache-Tag), no body',
    responses,
  };
}

function addExamples(key: string, operation: OperationObject, schemas: Record<string, SchemaObject>): void {
  const curated = CURATED[key] ?? {};
  for (const media of Object.values(operation.requestBody?.content ?? {})) {
    if (hasExample(media)) continue;
    media.example = curated.request ?? sample(media.schema, schemas, 0);
  }
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    for (const [type, media] of Object.entries(response.content ?? {})) {
      if (hasExample(media)) continue;
      if (type === 'application/problem+json') media.example = problemExample(status);
      else media.example = curated[status] ?? sample(media.schema, schemas, 0);
    }
  }
}

function hasExample(media: MediaType): boolean {
  return media.example !== undefined || media.examples !== undefined || media.schema?.example !== undefined;
}

const MAX_DEPTH = 6;

/** A plausible value for `schema` (declared examples first, then enums, then the type). */
export function sample(schema: SchemaObject | undefined, schemas: Record<string, SchemaObject>, depth: number): Json {
  if (!schema || depth > MAX_DEPTH) return null;
  if (schema.example !== undefined) return schema.example;
  if (schema.examples && schema.examples.length > 0) return schema.examples[0] as Json;
  if (schema.$ref) return sample(schemas[schema.$ref.replace('#/components/schemas/', '')], schemas, depth + 1);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0] as Json;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0) return sample(alternatives[0], schemas, depth + 1);
  if (schema.allOf) {
    return Object.assign({}, ...schema.allOf.map((part) => sample(part, schemas, depth + 1)).filter(isRecord)) as Json;
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, Json> = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) out[name] = sample(property, schemas, depth + 1);
      return out;
    }
    case 'array':
      return [sample(schema.items, schemas, depth + 1)];
    case 'integer':
    case 'number':
      return schema.minimum !== undefined && schema.minimum > 0 ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'string':
      return schema.format === 'date-time' ? '2025-01-01T00:00:00.000Z' : 'string';
    default:
      return schema.properties ? sample({ ...schema, type: 'object' }, schemas, depth) : null;
  }
}

function isRecord(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
