/** Schemas shared by the OpenAPI descriptions of several route modules. */
import { z } from '@hono/zod-openapi';
import type { JsonObject } from '../../core/port.js';

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    'invalid-params': z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details' });

export const DurationSchema = z.union([z.string(), z.number().int().positive()]).openapi('Duration', {
  description: 'Whole seconds (30 or "30") or an integer with a unit: 250ms, 30s, 5m, 2h, 1d. At most 365d.',
  example: '30s',
});

export const TtlSchema = z.union([DurationSchema, z.literal('none')]).openapi({
  description: 'A duration, or `none` for no expiry',
});

/**
 * A JSON object given in a request, passed on as parsed: a zod record would
 * rebuild it and silently drop an own `__proto__` key.
 */
export const JsonObjectInput = z
  .custom<JsonObject>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { message: 'must be a JSON object' })
  .openapi({ type: 'object', description: 'Any JSON object' });

export const NamespaceParam = z.string().openapi({
  param: { name: 'ns', in: 'path' },
  description: 'Namespace: ^[a-z0-9][a-z0-9_.-]{0,62}$',
  example: 'users',
});

export const keyParams = z.object({
  ns: NamespaceParam,
  key: z.string().openapi({
    param: { name: 'key', in: 'path' },
    description: 'The rest of the path: 1-1024 bytes of UTF-8 after percent-decoding; `/` allowed',
    example: 'user:42/profile',
  }),
});

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (see invalid-params)',
  401: 'Missing or unknown bearer token (WWW-Authenticate: Bearer)',
  403: 'The token lacks the scope or namespace',
  404: 'Not found',
  406: 'The Accept header does not admit text/event-stream',
  409: 'Conflict',
  412: 'Precondition failed; nothing changed',
  413: 'Over a size or count limit',
  415: 'Not application/json',
  503: 'Backend unavailable or slower than its timeout',
};

export function problemResponses(...statuses: number[]) {
  const out: Record<number, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }> = {};
  for (const status of statuses) {
    out[status] = {
      description: PROBLEM_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/problem+json': { schema: ProblemSchema } },
    };
  }
  return out;
}
