/**
 * Counters: POST /v1/counters/{ns}/{key} {"by"?, "ttl"?} → {"value"}.
 * A counter is an entry holding decimal text; values beyond ±2^53 come back
 * as decimal strings so JSON clients never lose precision.
 */
import { z } from '@hono/zod-openapi';
import { asObject, readJson } from '../json-body.js';
import { createRouter, type AppDeps } from '../context.js';
import { namespacedKey } from '../path-key.js';
import { invalidParam } from '../problem.js';
import { parseBy, parseTtlOrNone } from '../fields.js';
import { integerToJson } from '../values.js';
import { keyParams, problemResponses, TtlSchema } from './openapi-shared.js';

export function counterRoutes(deps: AppDeps) {
  const router = createRouter();

  router.post('/counters/:ns/*', async (c) => {
    const { ns, key } = namespacedKey(c, 'counters', 'write');
    const raw = await readJson(c, { optional: true });
    const body = raw === undefined ? {} : asObject(raw);
    const extra = Object.keys(body).filter((k) => k !== 'by' && k !== 'ttl');
    if (extra.length > 0) throw invalidParam(extra[0] as string, 'is not a field of this request');
    const by = parseBy(body.by);
    const ttl = parseTtlOrNone(body.ttl, 'ttl');
    const value = await deps.localEntries.writing(ns, [key], () => deps.port.increment(ns, key, by, ttl === undefined ? {} : { ttl }));
    return c.json({ value: integerToJson(value) }, 200);
  });

  router.openAPIRegistry.registerPath({
    method: 'post',
    path: '/counters/{ns}/{key}',
    tags: ['counters'],
    summary: 'Atomically increment a counter',
    description:
      'A missing key starts at 0; `ttl` (else the namespace default) applies only when the counter is created. ' +
      'Values outside ±2^53 are returned as decimal strings. Incrementing a non-integer value or overflowing 64 bits → 409.',
    request: {
      params: keyParams,
      body: {
        required: false,
        content: {
          'application/json': {
            schema: z.object({
              by: z.union([z.number().int(), z.string()]).optional().openapi({ description: 'Default 1; may be negative', example: 1 }),
              ttl: TtlSchema.optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: {
        description: 'The new value',
        content: { 'application/json': { schema: z.object({ value: z.union([z.number().int(), z.string()]) }) } },
      },
      ...problemResponses(400, 401, 403, 409, 415, 503),
    },
  });
  return router;
}
