/**
 * POST /v1/ratelimit: one atomic check-and-consume against the backend.
 *
 * 200 when allowed, 429 when not, both with the same JSON body and the
 * RateLimit-Limit / -Remaining / -Reset (seconds) headers; 429 adds
 * Retry-After. Needs the `write` scope (it consumes).
 *
 * Fail-open (RATE_LIMIT_FAIL_OPEN, default true): when the backend is down or
 * slower than its timeout, the call is allowed with `"degraded": true`, so an
 * outage of the cache does not take the caller's API down with it. With
 * fail-open off, such a call is 503 like any other route. Invalid input is a
 * 400 either way: it is checked before the backend is called.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { BackendTimeoutError, BackendUnavailableError } from '../../core/errors.js';
import type { RateLimitResult } from '../../core/port.js';
import { prepareRateLimit } from '../../core/rate-limit.js';
import { backendErrors } from '../../metrics.js';
import { authorize, authorizeBodyName, createRouter, type AppDeps } from '../context.js';
import { parseDurationField } from '../fields.js';
import { jsonBody } from '../json-body.js';
import { DurationSchema, problemResponses } from './openapi-shared.js';

const RateLimitBody = z
  .object({
    key: z.string().openapi({
      description: 'What to limit, e.g. `app-a:user:42` (1–1024 bytes of UTF-8); its scope is the part before the first `:`',
      example: 'app-a:user:42',
    }),
    limit: z
      .number()
      .int()
      .positive()
      .openapi({ description: 'Calls (cost units) allowed per window; for the token bucket, the bucket size', example: 100 }),
    window: DurationSchema.openapi({ description: 'Window length; for the token bucket, the time to refill completely', example: '1m' }),
    cost: z.number().int().min(0).optional().openapi({
      description: 'Units this call consumes (default 1; 0 only peeks and is always allowed; above `limit` is 400)',
      example: 1,
    }),
    algorithm: z
      .enum(['sliding-window', 'fixed-window', 'token-bucket'])
      .optional()
      .openapi({
        description:
          'sliding-window (default): the previous window counts in proportion to its overlap with the last `window`; ' +
          'fixed-window: counts reset at each window boundary; token-bucket: `limit` tokens refilled evenly over `window`.',
      }),
  })
  .strict()
  .openapi('RateLimitRequest');

const RateLimitResultSchema = z
  .object({
    allowed: z.boolean(),
    limit: z.number().int(),
    remaining: z.number().int().openapi({ description: 'What is left after this call; never negative' }),
    resetMs: z.number().int().openapi({ description: 'ms until the limit is fully restored (0 when nothing is consumed)' }),
    retryAfterMs: z.number().int().openapi({ description: 'ms until a call of the same cost could be allowed; 0 when allowed' }),
    degraded: z
      .boolean()
      .optional()
      .openapi({ description: 'Present (true) when the backend failed and the call was allowed without a check (fail-open)' }),
  })
  .openapi('RateLimitResult');

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': { schema: { type: 'integer' as const }, description: 'The limit' },
  'RateLimit-Remaining': { schema: { type: 'integer' as const }, description: 'What is left' },
  'RateLimit-Reset': { schema: { type: 'integer' as const }, description: 'Whole seconds (rounded up) until fully restored' },
};

const seconds = (ms: number) => Math.ceil(ms / 1000);

function headersFor(result: RateLimitResult): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-limit': String(result.limit),
    'ratelimit-remaining': String(result.remaining),
    'ratelimit-reset': String(seconds(result.resetMs)),
  };
  // Retry-After is whole seconds: round up so a client that honours it is not denied again.
  if (!result.allowed) headers['retry-after'] = String(Math.max(1, seconds(result.retryAfterMs)));
  return headers;
}

export function rateLimitRoutes(deps: AppDeps) {
  const router = createRouter();
  const { port, config, logger } = deps;

  router.openapi(
    createRoute({
      method: 'post',
      path: '/ratelimit',
      tags: ['rate limits'],
      summary: 'Check and consume a rate limit (atomic; a denied call consumes nothing)',
      description:
        'State is shared by calls with the same key, limit, window and algorithm; changing any of them starts a fresh state. ' +
        'Exact under concurrency: N parallel calls against limit L allow exactly min(N, L). ' +
        'If the backend fails or times out, the call is allowed with `degraded: true` (fail-open), ' +
        'or 503 when RATE_LIMIT_FAIL_OPEN=false. ' +
        'A token confined to namespace patterns may use only keys whose scope (the part before the first `:`) they match.',
      middleware: [authorize('write'), jsonBody(), authorizeBodyName('key', 'rate-limit key')],
      request: { body: { required: true, content: { 'application/json': { schema: RateLimitBody } } } },
      responses: {
        200: {
          description: 'Allowed (or degraded: allowed without a check)',
          headers: RATE_LIMIT_HEADERS,
          content: { 'application/json': { schema: RateLimitResultSchema } },
        },
        429: {
          description: 'Denied; nothing was consumed',
          headers: {
            ...RATE_LIMIT_HEADERS,
            'Retry-After': { schema: { type: 'integer' as const }, description: 'Whole seconds (rounded up)' },
          },
          content: { 'application/json': { schema: RateLimitResultSchema } },
        },
        ...problemResponses(400, 401, 403, 415, 503),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const windowMs = parseDurationField(body.window, 'window');
      // Validate first: invalid input is 400 whether or not the backend is up.
      const request = prepareRateLimit(body.key, { limit: body.limit, windowMs, cost: body.cost, algorithm: body.algorithm });
      let result: RateLimitResult;
      try {
        result = await port.rateLimit(request.key, request);
      } catch (error) {
        if (!(error instanceof BackendUnavailableError) || !config.rateLimitFailOpen) throw error;
        backendErrors.inc({ kind: error instanceof BackendTimeoutError ? 'timeout' : 'unavailable' });
        logger.warn({ err: error, requestId: c.get('requestId') }, 'rate limit backend failed; allowing (fail-open)');
        const degraded = { allowed: true, limit: request.limit, remaining: request.limit - request.cost, resetMs: 0, retryAfterMs: 0 };
        return c.json({ ...degraded, degraded: true }, 200, headersFor(degraded));
      }
      return c.json(result, result.allowed ? 200 : 429, headersFor(result));
    },
  );

  return router;
}
