/**
 * What every route family must do while its backend is down, and that the
 * same server recovers by itself once the backend is back. Shared by the
 * Postgres and Redis outage tests; the caller stops and restarts the backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildServer, type ChildServer } from '../support/fault-server.js';
import type { ThrowawayServer } from '../support/throwaway.js';

/** BACKEND_TIMEOUT_MS the servers under test run with. */
export const TIMEOUT_MS = 1000;
/** Generous slack on a shared 2-core machine: the point is "bounded", not "fast". */
export const SLACK_MS = 4000;
/** The bound on recovery without a restart. */
export const RECOVERY_MS = 15_000;

export interface Answer {
  status: number;
  ms: number;
  contentType: string;
  body: string;
}

export async function timedFetch(server: ChildServer, path: string, init: RequestInit = {}): Promise<Answer> {
  const started = Date.now();
  const response = await server.fetch(path, { ...init, signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  return { status: response.status, ms: Date.now() - started, contentType: response.headers.get('content-type') ?? '', body };
}

const json = (value: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

/** One request per cache route family that needs the backend (locks included: they fail closed). */
export function backendRequests(tag: string): { name: string; path: string; init: RequestInit }[] {
  return [
    { name: 'get entry', path: `/v1/cache/faults/${tag}-k`, init: {} },
    { name: 'put entry', path: `/v1/cache/faults/${tag}-k`, init: { method: 'PUT', body: 'v' } },
    { name: 'delete entry', path: `/v1/cache/faults/${tag}-k`, init: { method: 'DELETE' } },
    { name: 'incr', path: `/v1/counters/faults/${tag}-c`, init: json({ by: 1 }) },
    { name: 'batch', path: '/v1/batch', init: json({ ops: [{ op: 'get', ns: 'faults', key: 'x' }] }) },
    { name: 'namespace', path: '/v1/namespaces/faults', init: {} },
    { name: 'lock acquire', path: `/v1/locks/${tag}-lock`, init: json({ ttl: '30s' }) },
    { name: 'lock read', path: `/v1/locks/${tag}-lock`, init: {} },
    { name: 'session create', path: '/v1/sessions', init: json({ subject: 'u1' }) },
    { name: 'presence', path: `/v1/presence/${tag}-room`, init: {} },
  ];
}

/**
 * With the backend down: every backend route answers 503 problem+json within
 * the timeout, also when many arrive at once (no unbounded queue); liveness
 * stays 200, readiness is 503; rate limits follow the server's fail mode.
 */
export async function expectDegraded(server: ChildServer, failClosedServer: ChildServer, tag: string): Promise<void> {
  // 4 rounds of every route at once: far more requests than pool connections.
  const requests = Array.from({ length: 4 }, () => backendRequests(tag)).flat();
  const answers = await Promise.all(requests.map((r) => timedFetch(server, r.path, r.init).then((a) => ({ ...a, name: r.name }))));
  for (const answer of answers) {
    expect({ route: answer.name, status: answer.status, type: answer.contentType }).toEqual({
      route: answer.name,
      status: 503,
      type: 'application/problem+json',
    });
    expect(answer.ms, answer.name).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    const problem = JSON.parse(answer.body) as { status: number; title: string };
    expect(problem.status).toBe(503);
  }

  const health = await timedFetch(server, '/health');
  expect(health.status).toBe(200);
  const ready = await timedFetch(server, '/health/ready');
  expect(ready.status).toBe(503);
  expect(ready.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);

  const limit = { key: `${tag}-rl`, limit: 5, window: '10s' };
  const open = await timedFetch(server, '/v1/ratelimit', json(limit));
  expect(open.status).toBe(200);
  expect(JSON.parse(open.body)).toMatchObject({ allowed: true, degraded: true });
  expect(open.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  const closed = await timedFetch(failClosedServer, '/v1/ratelimit', json(limit));
  expect(closed.status).toBe(503);
  expect(closed.contentType).toBe('application/problem+json');
  expect(closed.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);

  // Still alive after all of that.
  expect(server.alive()).toBe(true);
  expect(failClosedServer.alive()).toBe(true);
}

/** Sends `request` until `ok` holds or RECOVERY_MS have passed since `started`; the last answer. */
async function untilRecovered(started: number, request: () => Promise<Answer>, ok: (answer: Answer) => boolean): Promise<Answer> {
  for (;;) {
    const answer = await request();
    if (ok(answer) || Date.now() - started >= RECOVERY_MS) return answer;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Polls a write until it succeeds; returns how long recovery took. Fails after RECOVERY_MS.
 * Then every other family must work again within the same RECOVERY_MS: the first
 * statement on each pooled connection to the old server may still fail (a write
 * is never re-sent, it may have been applied), but none may keep failing.
 */
export async function expectRecovery(server: ChildServer, tag: string): Promise<number> {
  const started = Date.now();
  const put = await untilRecovered(
    started,
    () => timedFetch(server, `/v1/cache/faults/${tag}-back`, { method: 'PUT', body: 'back' }),
    (a) => a.status === 201 || a.status === 204,
  );
  const took = Date.now() - started;
  expect(put.status, `still failing after ${took} ms: ${put.body}`).toBeOneOf([201, 204]);
  expect(took).toBeLessThan(RECOVERY_MS);
  const get = await untilRecovered(
    started,
    () => timedFetch(server, `/v1/cache/faults/${tag}-back`),
    (a) => a.status === 200,
  );
  expect(get.status).toBe(200);
  expect(get.body).toBe('back');
  const lock = await untilRecovered(
    started,
    () => timedFetch(server, `/v1/locks/${tag}-after`, json({ ttl: '30s' })),
    (a) => a.status === 201,
  );
  expect(lock.status, lock.body).toBe(201);
  const limited = await untilRecovered(
    started,
    () => timedFetch(server, '/v1/ratelimit', json({ key: `${tag}-rl2`, limit: 5, window: '10s' })),
    (a) => a.status === 200 && !a.body.includes('"degraded":true'),
  );
  expect(limited.status).toBe(200);
  expect(JSON.parse(limited.body)).not.toHaveProperty('degraded', true);
  const ready = await untilRecovered(
    started,
    () => timedFetch(server, '/health/ready'),
    (a) => a.status === 200,
  );
  expect(ready.status).toBe(200);
  return took;
}

/** The namespace with a local cache the outage test reads (configured by warmLocalCache). */
const LOCAL_NS = 'faults-local';

async function localHitsOf(server: ChildServer): Promise<number> {
  const answer = await timedFetch(server, `/v1/namespaces/${LOCAL_NS}`);
  return answer.status === 200 ? (JSON.parse(answer.body) as { stats: { localHits: number } }).stats.localHits : -1;
}

/** Reads `key` until the server answers it from its local cache (its stats count the process's own local hits at once). */
async function untilServedLocally(server: ChildServer, key: string, value: string, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const before = await localHitsOf(server);
    const got = await timedFetch(server, `/v1/cache/${LOCAL_NS}/${key}`);
    if (got.status === 200) expect(got.body).toBe(value);
    if (before >= 0 && got.status === 200 && (await localHitsOf(server)) > before) return;
    if (Date.now() > deadline) throw new Error(`${LOCAL_NS}/${key} was not served locally within ${boundMs} ms (last ${got.status})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Before the outage: a namespace with a local cache whose key the server serves from memory. */
async function configureLocalCache(server: ChildServer): Promise<void> {
  const configured = await timedFetch(server, `/v1/namespaces/${LOCAL_NS}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ localCache: { maxEntries: 100, ttl: '1h' } }),
  });
  expect(configured.status).toBeOneOf([200, 201]);
}

export async function warmLocalCache(server: ChildServer, tag: string): Promise<void> {
  await configureLocalCache(server);
  expect((await timedFetch(server, `/v1/cache/${LOCAL_NS}/${tag}`, { method: 'PUT', body: tag })).status).toBeOneOf([201, 204]);
  await untilServedLocally(server, tag, tag, RECOVERY_MS);
}

/**
 * With the backend down, a local copy is no outage fallback: once the feed reports the loss (or the
 * namespace's config must be reloaded, 1 s) reads answer 503 like every cache route; before that only
 * the value written is ever answered.
 */
export async function expectLocalCacheBypassed(server: ChildServer, tag: string): Promise<void> {
  const deadline = Date.now() + 1000 + TIMEOUT_MS + SLACK_MS;
  for (;;) {
    const got = await timedFetch(server, `/v1/cache/${LOCAL_NS}/${tag}`);
    if (got.status === 503) return;
    expect({ status: got.status, body: got.body }).toEqual({ status: 200, body: tag });
    expect(Date.now(), 'a local copy was still answered while the backend was down').toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * After the outage: served from memory again (the feed came back by itself). Configured and written again
 * first: a crash may have emptied the backend (UNLOGGED tables; a Redis without persistence loses the
 * namespace's configuration too).
 */
export async function expectLocalCacheBack(server: ChildServer, tag: string): Promise<void> {
  await configureLocalCache(server);
  const put = await timedFetch(server, `/v1/cache/${LOCAL_NS}/${tag}`, { method: 'PUT', body: `${tag}-after` });
  expect(put.status, put.body).toBeOneOf([201, 204]);
  await untilServedLocally(server, tag, `${tag}-after`, RECOVERY_MS);
}

/**
 * The down-and-back test for one backend: `launch` starts a throwaway server
 * and returns it with the env that points the app at it (BACKEND_TIMEOUT_MS is
 * TIMEOUT_MS). Two app servers run against it: fail-open and fail-closed.
 */
export function describeOutage(name: string, launch: () => Promise<{ backend: ThrowawayServer; env: Record<string, string> }>): void {
  describe(`${name} backend down and back`, () => {
    let backend: ThrowawayServer;
    let server: ChildServer;
    let failClosed: ChildServer;

    beforeAll(async () => {
      const launched = await launch();
      backend = launched.backend;
      const env = { ...launched.env, BACKEND_TIMEOUT_MS: String(TIMEOUT_MS) };
      server = await startChildServer(env);
      failClosed = await startChildServer({ ...env, RATE_LIMIT_FAIL_OPEN: 'false' });
    }, 120_000);

    afterAll(async () => {
      await Promise.allSettled([server?.stop(), failClosed?.stop()]);
      await backend?.destroy();
    }, 60_000);

    for (const mode of ['crash', 'clean'] as const) {
      it(`${mode} stop: 503 within the timeout while down, recovery without restart`, async () => {
        const warm = await server.fetch(`/v1/cache/faults/${mode}-warm`, { method: 'PUT', body: 'x' });
        expect(warm.status).toBe(201);
        await warmLocalCache(server, mode);
        if (mode === 'crash') await backend.crash();
        else await backend.stopClean();
        try {
          await expectLocalCacheBypassed(server, mode);
          await expectDegraded(server, failClosed, mode);
        } finally {
          await backend.start();
        }
        await expectRecovery(server, mode);
        await expectLocalCacheBack(server, mode);
        await expectRecovery(failClosed, `${mode}-fc`);
        expect(server.alive()).toBe(true);
      }, 90_000);
    }
  });
}
