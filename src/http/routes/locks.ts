/**
 * Locks as leases over HTTP: POST acquires (optionally waiting), PATCH
 * extends, DELETE releases (token in the Lock-Token header), GET inspects
 * (never the token). Changes need the `write` scope, GET needs `read`.
 *
 * Locks always fail closed: a backend failure is 503, never a granted lease.
 * Waiting polls with jittered exponential backoff between short backend
 * calls, so no connection is held while sleeping.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Lease, LockManager } from '../../core/port.js';
import { authorize, createRouter, type AppDeps } from '../context.js';
import { parseDurationField } from '../fields.js';
import { jsonBody } from '../json-body.js';
import { clientClosed, HttpProblem, invalidParam } from '../problem.js';
import { DurationSchema, problemResponses } from './openapi-shared.js';

/** A longer `wait` is shortened to this: an HTTP request should not hang for minutes. */
export const MAX_LOCK_WAIT_MS = 60_000;
const FIRST_BACKOFF_MS = 25;
const MAX_BACKOFF_MS = 1000;

const NameParam = z.object({
  name: z
    .string()
    .openapi({ param: { name: 'name', in: 'path' }, description: 'Lock name: ^[A-Za-z0-9_.:-]{1,200}$', example: 'jobs:nightly-report' }),
});

const AcquireBody = z
  .object({
    ttl: DurationSchema.openapi({ description: 'Lease length; the lease lapses by itself after it', example: '30s' }),
    wait: DurationSchema.optional().openapi({
      description: `How long to wait for a held lock before answering 409 (at most ${MAX_LOCK_WAIT_MS / 1000}s; default: do not wait)`,
      example: '5s',
    }),
  })
  .strict()
  .openapi('AcquireLock');

const ExtendBody = z
  .object({
    token: z.string().openapi({ description: 'The token returned by the acquire' }),
    ttl: DurationSchema.openapi({ description: 'New lease length, from now', example: '30s' }),
  })
  .strict()
  .openapi('ExtendLock');

const LeaseSchema = z
  .object({
    token: z.string().openapi({ description: 'Secret to the holder (144 random bits, base64url); needed to extend or release' }),
    fence: z.number().int().openapi({
      description: 'Strictly increases with each acquire of this name; never repeats. Pass it to storage writes to reject stale holders.',
    }),
    expiresAt: z.string().openapi({ description: 'ISO 8601 UTC' }),
  })
  .openapi('Lease');

const LockStateSchema = z
  .object({
    held: z.boolean(),
    expiresAt: z.string().nullable().openapi({ description: 'ISO 8601 UTC; null when not held' }),
    fence: z.number().int().nullable().openapi({ description: 'The last fence issued (also when not held); null if never acquired' }),
  })
  .openapi('LockState');

const iso = (ms: number) => new Date(ms).toISOString();
const leaseBody = (lease: Lease) => ({ token: lease.token, fence: lease.fence, expiresAt: iso(lease.expiresAt) });
const ACCESS = { name: 'name', what: 'lock' } as const;

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Tries until acquired or `waitMs` has passed. A client that disconnects
 * (`signal`) stops the waiting, and never holds the lock: an attempt in
 * flight that wins is released at once. Then throws a 499 (nobody reads it).
 */
async function acquireWithin(port: LockManager, name: string, ttl: number, waitMs: number, signal: AbortSignal): Promise<Lease | null> {
  const deadline = Date.now() + waitMs;
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    if (signal.aborted) throw clientClosed();
    const lease = await port.acquire(name, { ttl });
    if (signal.aborted) {
      if (lease) await port.release(name, lease.token);
      throw clientClosed();
    }
    const left = deadline - Date.now();
    if (lease || left <= 0) return lease;
    // Full jitter in [backoff/2, backoff): waiters spread out instead of polling in lockstep.
    await sleep(Math.min(left, backoff / 2 + Math.random() * (backoff / 2)), signal);
    backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
  }
}

/** Whole seconds until the current lease lapses (at least 1), for Retry-After. */
async function retryAfterSeconds(port: LockManager, name: string): Promise<string> {
  const state = await port.inspectLock(name);
  const ms = state.expiresAt === null ? 0 : state.expiresAt - Date.now();
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

export function lockRoutes(deps: AppDeps) {
  const router = createRouter();
  const { port } = deps;

  router.openapi(
    createRoute({
      method: 'post',
      path: '/locks/{name}',
      tags: ['locks'],
      summary: 'Acquire a lease (optionally waiting for it)',
      description:
        'Locks fail closed: when the backend is unavailable the answer is 503, never a lease. A waiter whose client disconnects ' +
        'stops waiting and never takes the lock (an attempt in flight that wins is released at once).',
      middleware: [authorize('write', ACCESS), jsonBody()],
      request: { params: NameParam, body: { required: true, content: { 'application/json': { schema: AcquireBody } } } },
      responses: {
        201: { description: 'Acquired', content: { 'application/json': { schema: LeaseSchema } } },
        409: {
          ...problemResponses(409)[409],
          description: 'Held by someone else (after waiting up to `wait`)',
          headers: { 'Retry-After': { schema: { type: 'integer' as const }, description: 'Whole seconds until the current lease lapses' } },
        },
        ...problemResponses(400, 401, 403, 415, 503),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      const ttl = parseDurationField(body.ttl, 'ttl');
      const waitMs = body.wait === undefined ? 0 : Math.min(MAX_LOCK_WAIT_MS, parseDurationField(body.wait, 'wait'));
      const lease = await acquireWithin(port, name, ttl, waitMs, c.req.raw.signal);
      if (!lease) {
        throw new HttpProblem(409, 'lock-held', `lock ${JSON.stringify(name)} is held by someone else`, {
          'retry-after': await retryAfterSeconds(port, name),
        });
      }
      return c.json(leaseBody(lease), 201, { 'cache-control': 'no-store' });
    },
  );

  router.openapi(
    createRoute({
      method: 'patch',
      path: '/locks/{name}',
      tags: ['locks'],
      summary: 'Extend a lease held with this token',
      middleware: [authorize('write', ACCESS), jsonBody()],
      request: { params: NameParam, body: { required: true, content: { 'application/json': { schema: ExtendBody } } } },
      responses: {
        200: { description: 'Extended', content: { 'application/json': { schema: LeaseSchema } } },
        409: { ...problemResponses(409)[409], description: 'The token no longer holds the lock (released, expired or taken over)' },
        ...problemResponses(400, 401, 403, 415, 503),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      const ttl = parseDurationField(body.ttl, 'ttl');
      const lease = await port.extend(name, body.token, ttl);
      if (!lease) throw new HttpProblem(409, 'lock-not-held', `this token does not hold lock ${JSON.stringify(name)}`);
      return c.json(leaseBody(lease), 200, { 'cache-control': 'no-store' });
    },
  );

  router.openapi(
    createRoute({
      method: 'delete',
      path: '/locks/{name}',
      tags: ['locks'],
      summary: 'Release a lease (token in the Lock-Token header)',
      middleware: authorize('write', ACCESS),
      request: {
        params: NameParam,
        headers: z.object({ 'lock-token': z.string().optional().openapi({ description: 'The token returned by the acquire (required)' }) }),
      },
      responses: {
        204: { description: 'Released' },
        400: { ...problemResponses(400)[400], description: 'No Lock-Token header, or an invalid name' },
        404: { ...problemResponses(404)[404], description: 'Not held by anyone' },
        409: { ...problemResponses(409)[409], description: 'Held with another token' },
        ...problemResponses(401, 403, 503),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const token = c.req.header('lock-token');
      if (token === undefined || token === '')
        throw invalidParam('Lock-Token', 'the header is required: send the token returned by the acquire');
      const result = await port.release(name, token);
      if (result === 'wrong_token')
        throw new HttpProblem(409, 'lock-wrong-token', `lock ${JSON.stringify(name)} is held with another token`);
      if (result === 'not_held') throw new HttpProblem(404, 'lock-not-held', `lock ${JSON.stringify(name)} is not held`);
      return c.body(null, 204);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/locks/{name}',
      tags: ['locks'],
      summary: 'Inspect a lock (never returns the token)',
      middleware: authorize('read', ACCESS),
      request: { params: NameParam },
      responses: {
        200: {
          description: 'The lock state; not held → held: false, expiresAt: null',
          content: { 'application/json': { schema: LockStateSchema } },
        },
        ...problemResponses(400, 401, 403, 503),
      },
    }),
    async (c) => {
      const state = await port.inspectLock(c.req.valid('param').name);
      return c.json({ held: state.held, expiresAt: state.expiresAt === null ? null : iso(state.expiresAt), fence: state.fence }, 200);
    },
  );

  return router;
}
