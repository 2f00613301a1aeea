/**
 * Operations: liveness, readiness (backend ping with a timeout) and
 * Prometheus metrics. Public, except /metrics when METRICS_TOKEN is set.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { createHash, timingSafeEqual } from 'node:crypto';
import { backendInFlight, backendPoolSize, registry } from '../../metrics.js';
import { createRouter, type AppDeps } from '../context.js';
import { HttpProblem } from '../problem.js';

const HealthSchema = z.object({ status: z.literal('ok') }).openapi('Health');
const ReadySchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    backend: z.enum(['postgres', 'redis', 'http']),
    latencyMs: z.number().nullable(),
  })
  .openapi('Readiness');

function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

export function operationsRoutes(deps: AppDeps) {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['operations'],
      summary: 'Liveness (no backend call)',
      security: [],
      responses: { 200: { description: 'The process is up', content: { 'application/json': { schema: HealthSchema } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/health/ready',
      tags: ['operations'],
      summary: 'Readiness: pings the backend within BACKEND_TIMEOUT_MS',
      security: [],
      responses: {
        200: { description: 'Backend reachable', content: { 'application/json': { schema: ReadySchema } } },
        503: { description: 'Backend unreachable or slow', content: { 'application/json': { schema: ReadySchema } } },
      },
    }),
    async (c) => {
      try {
        const latencyMs = await deps.port.ping(deps.config.backendTimeoutMs);
        return c.json({ status: 'ok' as const, backend: deps.port.backend, latencyMs: Math.round(latencyMs * 10) / 10 }, 200);
      } catch (error) {
        deps.logger.warn({ err: error }, 'readiness ping failed');
        return c.json({ status: 'unavailable' as const, backend: deps.port.backend, latencyMs: null }, 503);
      }
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      summary: 'Prometheus metrics (Bearer METRICS_TOKEN when configured)',
      security: [],
      responses: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
        401: { description: 'METRICS_TOKEN is set and was not presented' },
      },
    }),
    async (c) => {
      const expected = deps.config.metricsToken;
      if (expected !== undefined) {
        const match = /^Bearer[ ]+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
        if (!match || !sameSecret(match[1] as string, expected)) {
          throw new HttpProblem(401, 'unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>', {
            'www-authenticate': 'Bearer realm="metrics"',
          });
        }
      }
      const usage = deps.port.usage();
      backendInFlight.set({ backend: deps.port.backend }, usage.inFlight);
      backendPoolSize.set({ backend: deps.port.backend }, usage.poolSize ?? 1);
      const text = await registry.metrics();
      return c.body(text, 200, { 'content-type': registry.contentType });
    },
  );

  return router;
}
