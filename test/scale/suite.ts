/**
 * The scale test of one topology: three cacheport instances (separate
 * processes) over one shared backend, behind HAProxy (round robin, health
 * check on /health/ready). It checks what must hold across instances —
 * lock exclusivity and fences, exact rate limits, local-cache coherence,
 * pub/sub fan-out, losing an instance, (Postgres) a PgBouncer restart — and
 * prints throughput through the proxy with one instance and with three.
 *
 * Everything listens on 127.0.0.1 and is stopped in afterAll (and killed if
 * the test process exits first). Assertions are about behaviour; the
 * throughput figures are printed, never asserted (speed belongs in bench/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHttpLoad } from '../../bench/http/load.js';
import { bestRun, type Measurement } from '../../bench/lib/measurement.js';
import { findWrk, runWrk } from '../../bench/wrk/wrk.js';
import { startHaproxy, type HaproxyProcess } from './support/haproxy.js';
import { startInstances, type Instance } from './support/instances.js';
import { eventually, percentile, sleep, startLoad, statusOf } from './support/load.js';
import { openSse, type SseStream } from './support/sse.js';

export const INSTANCES = 3;

/** The shared backend of one topology and how the instances reach it. */
export interface TopologyBackend {
  /** Environment of every instance (backend URLs, schema or key prefix, timeouts). */
  env: Record<string, string>;
  /** Added for the first instance only (it runs the cleanup worker). */
  firstEnv: Record<string, string>;
  /** Postgres topology: stop PgBouncer, wait `downMs`, start it again on the same port. */
  restartPooler?: (downMs: number) => Promise<void>;
  /** Stops what start() started and removes the test's data. */
  stop(): Promise<void>;
}

export interface Topology {
  /** e.g. `3 instances + PgBouncer + one Postgres`. */
  name: string;
  start(): Promise<TopologyBackend>;
}

/** HAProxy's capped frontend: at most a third of this in flight on each instance (maxconn). */
const PROXY_CONCURRENCY = 12;
/**
 * Kill test: workers of the load loop. Fewer than PROXY_CONCURRENCY, so the
 * two survivors can take every one of them: a request redispatched from the
 * dead instance finds a free slot rather than HAProxy's 503 (no server).
 */
const KILL_LOAD_WORKERS = 8;
const THROUGHPUT_MS = 5000;
const WARMUP_MS = 2000;
const THROUGHPUT_CONNECTIONS = 24;
/** A change made through one instance must be visible through every other within this (spec: p99 ≤ 100 ms on one machine). */
const COHERENCE_BOUND_MS = 2000;
const COHERENCE_TRIALS = 120;
/** After a PgBouncer restart, requests through the proxy succeed again within this. */
const RECOVERY_BOUND_MS = 15_000;

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** { status: how many } */
function countBy(values: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function formatMeasurement(m: Measurement): string {
  return `${Math.round(m.opsPerSec)} req/s (p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, ${m.errors} errors)`;
}

export function scaleSuite(topology: Topology, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip === true)(`scale: ${topology.name}`, () => {
    let backend: TopologyBackend | undefined;
    let instances: Instance[] = [];
    let proxy: HaproxyProcess | undefined;
    const run = Math.random().toString(36).slice(2, 8);
    const ns = `scale-${run}`;

    const through = (path: string, init?: RequestInit) => fetch(proxy!.url + path, init);
    const direct = (i: number, path: string, init?: RequestInit) => fetch(instances[i % instances.length]!.url + path, init);
    const failureContext = () =>
      [`haproxy:\n${proxy?.log() ?? ''}`, ...instances.map((inst) => `instance ${inst.index}:\n${inst.output()}`)].join('\n');

    beforeAll(async () => {
      backend = await topology.start();
      instances = await startInstances(INSTANCES, backend.env, backend.firstEnv);
      proxy = await startHaproxy({ instancePorts: instances.map((i) => i.port), concurrency: PROXY_CONCURRENCY });
      const allUp = await eventually(async () => (await proxy!.servers()).every((s) => s.status === 'UP'), 10_000);
      if (!allUp) throw new Error(`haproxy never saw every instance UP: ${JSON.stringify(await proxy.servers())}\n${failureContext()}`);
    }, 120_000);

    afterAll(async () => {
      await proxy?.stop();
      await Promise.allSettled(instances.map((instance) => instance.stop()));
      await backend?.stop();
    }, 60_000);

    it('50 parallel lock acquires through the proxy: exactly one wins', async () => {
      const name = `scale-${run}:exclusive`;
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const answer = await through(`/v1/locks/${name}`, json({ ttl: '30s' }));
          return { status: answer.status, text: await answer.text() };
        }),
      );
      const unexpected = answers.filter((a) => a.status !== 201 && a.status !== 409).map((a) => `${a.status} ${a.text}`);
      expect(unexpected, failureContext()).toEqual([]);
      expect(countBy(answers.map((a) => a.status))).toEqual({ 201: 1, 409: 49 });
    });

    it('acquire and release through different instances: fences strictly increase', async () => {
      const name = `scale-${run}:fenced`;
      const fences: number[] = [];
      for (let round = 0; round < 30; round++) {
        const acquired = await direct(round, `/v1/locks/${name}`, json({ ttl: '30s' }));
        expect(acquired.status).toBe(201);
        const lease = (await acquired.json()) as { token: string; fence: number };
        fences.push(lease.fence);
        const released = await direct(round + 1, `/v1/locks/${name}`, { method: 'DELETE', headers: { 'lock-token': lease.token } });
        expect(released.status).toBe(204);
      }
      for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]!);
    });

    it.each(['fixed-window', 'sliding-window', 'token-bucket'] as const)(
      'rate limit (%s): 60 parallel requests spread over the instances admit exactly 25',
      async (algorithm) => {
        // A day's window: the token bucket refills limit/window per second, nothing within this test.
        const body = { key: `scale-${run}:${algorithm}`, limit: 25, window: '1d', algorithm };
        const answers = await Promise.all(
          Array.from({ length: 60 }, async (_, i) => {
            const answer = await direct(i, '/v1/ratelimit', json(body));
            return { status: answer.status, body: (await answer.json()) as { degraded?: boolean } };
          }),
        );
        // A degraded answer (backend timed out, fail-open) would be an allowed request the limit never counted.
        expect(answers.filter((a) => a.body.degraded === true).map((a) => a.body)).toEqual([]);
        expect(countBy(answers.map((a) => a.status))).toEqual({ 200: 25, 429: 35 });
      },
    );

    it(`localCache: a PUT through one instance is read through another within ${COHERENCE_BOUND_MS} ms, every time`, async () => {
      const cached = `${ns}-local`;
      const configured = await direct(0, `/v1/namespaces/${cached}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ localCache: { maxEntries: 1000, ttl: '1m' } }),
      });
      expect(configured.status).toBe(201);
      // Every instance reads the config (and opens its change feed) before the trials.
      for (let i = 0; i < INSTANCES; i++) expect(await statusOf(direct(i, `/v1/cache/${cached}/warm`))).toBe(404);
      const delays: number[] = [];
      const late: string[] = [];
      for (let trial = 0; trial < COHERENCE_TRIALS; trial++) {
        const writer = trial % INSTANCES;
        const reader = (trial + 1) % INSTANCES;
        const key = `/v1/cache/${cached}/k${trial % 5}`;
        // The reader holds a copy (the previous value, or a miss) before the write.
        await statusOf(direct(reader, key));
        const value = `v${trial}`;
        const written = await direct(writer, key, { method: 'PUT', body: value });
        const start = performance.now();
        expect([201, 204]).toContain(written.status);
        let seen = false;
        while (!seen && performance.now() - start < COHERENCE_BOUND_MS) {
          const answer = await direct(reader, key);
          seen = answer.status === 200 && (await answer.text()) === value;
          if (!seen) await sleep(2);
        }
        const delay = performance.now() - start;
        if (!seen) late.push(`trial ${trial}: instance ${reader + 1} still stale after ${Math.round(delay)} ms`);
        delays.push(delay);
      }
      delays.sort((a, b) => a - b);
      console.log(
        `[scale ${topology.name}] localCache change delay over ${COHERENCE_TRIALS} trials: ` +
          `p50 ${percentile(delays, 50).toFixed(1)} ms, p99 ${percentile(delays, 99).toFixed(1)} ms, max ${percentile(delays, 100).toFixed(1)} ms`,
      );
      expect(late).toEqual([]);
    }, 120_000);

    it('pub/sub: every message published through the proxy reaches a subscriber on every instance, in order', async () => {
      const channel = `scale-${run}:room`;
      const streams: SseStream[] = [];
      try {
        for (let i = 0; i < INSTANCES; i++) streams.push(await openSse(`${instances[i]!.url}/v1/channels/${channel}`));
        for (const stream of streams) expect(stream.status).toBe(200);
        const published: string[] = [];
        for (let n = 0; n < 30; n++) {
          const answer = await through(`/v1/channels/${channel}`, json({ data: { n } }));
          expect(answer.status).toBe(202);
          published.push(((await answer.json()) as { id: string }).id);
        }
        const messageIds = (stream: SseStream) => {
          const ids: string[] = [];
          for (const event of stream.events)
            if (event.event === 'message' && event.id !== undefined && !ids.includes(event.id)) ids.push(event.id);
          return ids;
        };
        for (const stream of streams) {
          await stream.waitFor(() => messageIds(stream).length >= published.length, 10_000);
          expect(messageIds(stream)).toEqual(published);
          const data = stream.events.filter((e) => e.event === 'message').map((e) => (JSON.parse(e.data) as { n: number }).n);
          expect([...new Set(data)]).toEqual(published.map((_, n) => n));
        }
      } finally {
        for (const stream of streams) stream.close();
      }
    }, 60_000);

    it('throughput through the proxy, 1 instance vs 3 (printed, not asserted)', async () => {
      const path = `/v1/cache/${ns}/hot`;
      expect(await statusOf(through(path, { method: 'PUT', body: 'x'.repeat(1024) }))).toBe(201);
      const wrk = findWrk();
      const measure = (origin: string, durationMs = THROUGHPUT_MS): Promise<Measurement> =>
        wrk === undefined
          ? runHttpLoad({ origin, nextPath: () => path, connections: THROUGHPUT_CONNECTIONS, warmupMs: 0, durationMs })
          : runWrk({
              binary: wrk,
              origin,
              plan: { kind: 'fixed', path },
              connections: THROUGHPUT_CONNECTIONS,
              threads: 2,
              durationMs,
            });
      // A warm-up of both paths (connection pools, JIT), then two runs each, alternating (one, three, three,
      // one) so that a change in the shared machine's load does not favour one; the best run of each counts.
      await measure(proxy!.oneUrl, WARMUP_MS);
      await measure(proxy!.url, WARMUP_MS);
      const runs = { one: [] as Measurement[], three: [] as Measurement[] };
      for (const which of ['one', 'three', 'three', 'one'] as const)
        runs[which].push(await measure(which === 'one' ? proxy!.oneUrl : proxy!.url));
      const one = bestRun(runs.one);
      const three = bestRun(runs.three);
      console.log(
        [
          `[scale ${topology.name}] GET of a cached 1 KiB key through HAProxy, ${THROUGHPUT_CONNECTIONS} connections, ` +
            `${THROUGHPUT_MS / 1000} s each, ${wrk === undefined ? 'autocannon' : 'wrk'}:`,
          `  1 instance:  ${formatMeasurement(one)} (runs: ${runs.one.map((m) => Math.round(m.opsPerSec)).join(', ')} req/s)`,
          `  3 instances: ${formatMeasurement(three)} (runs: ${runs.three.map((m) => Math.round(m.opsPerSec)).join(', ')} req/s)`,
          `  ratio 3/1: ${(three.opsPerSec / one.opsPerSec).toFixed(2)}×`,
          `  servers after: ${JSON.stringify(await proxy!.servers())}`,
        ].join('\n'),
      );
      for (const run of [...runs.one, ...runs.three]) {
        expect(run.errors).toBe(0);
        expect(run.ops).toBeGreaterThan(0);
      }
    }, 90_000);

    it('kill -9 of one instance under load: only its requests in flight fail, the proxy routes around it', async () => {
      const key = `/v1/cache/${ns}/load`;
      expect([201, 204]).toContain(await statusOf(through(key, { method: 'PUT', body: 'steady' })));
      const samples: string[] = [];
      const capped = async (path: string, init: RequestInit) => {
        const answer = await fetch(proxy!.cappedUrl + path, init);
        const text = await answer.text();
        if (answer.status >= 500 && samples.length < 5) samples.push(`${answer.status} ${text.slice(0, 160)}`);
        return answer.status;
      };
      const load = startLoad(
        KILL_LOAD_WORKERS,
        (worker, n, signal) =>
          n % 2 === 0 ? capped(key, { signal }) : capped(`/v1/cache/${ns}/w${worker}`, { method: 'PUT', body: String(n), signal }),
        (status) => status < 500,
      );
      await sleep(1500);
      const victim = instances[1]!;
      const killSentAt = load.now();
      await victim.crash();
      const killedAt = load.now();
      await sleep(4000);
      const records = await load.stop();
      const failures = records.filter((r) => !r.ok);
      const before = records.filter((r) => r.end < killSentAt);
      const after = records.filter((r) => r.start > killedAt);
      console.log(
        `[scale ${topology.name}] kill -9 of instance ${victim.index}: ${records.length} requests, ${failures.length} failed ` +
          `(statuses ${JSON.stringify(countBy(failures.map((f) => f.status)))}), ${after.filter((r) => r.ok).length} succeeded after the kill` +
          (samples.length > 0 ? `; first answers ≥ 500: ${samples.join(' | ')}` : '') +
          `; failures: ${JSON.stringify(failures.map((f) => ({ start: Math.round(f.start - killSentAt), end: Math.round(f.end - killSentAt), error: f.error })))}`,
      );
      expect(before.every((r) => r.ok)).toBe(true);
      // Only requests that were on the victim while it died fail: each started before its exit was seen and
      // ended after the signal. At most its maxconn were in flight at once; the kernel takes a while (~100 ms
      // on this machine) to tear a killed process down, and HAProxy may send a request into a slot freed in
      // that window: so at most twice its maxconn. A request sent after the exit was refused at connect and
      // redispatched to a survivor; the only exception is one HAProxy had already queued for the victim
      // (its per-server queue, bounded by the same maxconn) when the health check marked it down: HAProxy
      // answers those 503 "no server is available" at once, within the check's window after the kill.
      for (const failure of failures) {
        expect(failure.end).toBeGreaterThanOrEqual(killSentAt);
        if (failure.start > killedAt) {
          expect(failure.status, JSON.stringify(failure)).toBe(503);
          expect(failure.end - killedAt).toBeLessThanOrEqual(2000);
        }
      }
      expect(failures.length).toBeLessThanOrEqual(2 * proxy!.perInstanceMaxconn);
      expect(after.filter((r) => r.ok).length).toBeGreaterThan(100);
      const servers = await proxy!.servers();
      expect(servers.find((s) => s.name === `i${victim.index}`)?.status).toMatch(/^DOWN/);
      expect(servers.filter((s) => s.name !== `i${victim.index}`).every((s) => s.status === 'UP')).toBe(true);
    }, 60_000);

    it('PgBouncer restart mid-run: requests fail while it is down and succeed again without restarting any instance', async (ctx) => {
      if (backend?.restartPooler === undefined) ctx.skip();
      const survivors = instances.filter((i) => i.alive());
      const pids = survivors.map((i) => i.pid);
      const key = `/v1/cache/${ns}/pooled`;
      expect([201, 204]).toContain(await statusOf(through(key, { method: 'PUT', body: 'before' })));
      const load = startLoad(
        6,
        (_worker, _n, signal) => statusOf(through(key, { signal })),
        (status) => status === 200,
        3000,
      );
      await sleep(1000);
      const downAt = load.now();
      let directWhileDown = 0;
      const restart = backend!.restartPooler!(3000);
      await sleep(1500);
      directWhileDown = await statusOf(fetch(`${survivors[0]!.url}${key}`));
      await restart;
      const backAt = load.now();
      const recovered = await eventually(async () => (await statusOf(through(key))) === 200, RECOVERY_BOUND_MS, 100);
      await sleep(1000);
      const records = await load.stop();
      const firstOkAfter = records.find((r) => r.start >= backAt && r.ok);
      console.log(
        `[scale ${topology.name}] PgBouncer down ${Math.round(backAt - downAt)} ms: ${records.filter((r) => !r.ok).length} of ${records.length} requests failed; ` +
          `first success ${firstOkAfter === undefined ? 'never' : `${Math.round(firstOkAfter.end - backAt)} ms`} after it was back`,
      );
      // While PgBouncer is down an instance answers 503 (within BACKEND_TIMEOUT_MS), not a hang or a 500.
      expect(directWhileDown).toBe(503);
      expect(recovered).toBe(true);
      expect(records.some((r) => r.start > downAt && !r.ok)).toBe(true);
      expect(firstOkAfter).toBeDefined();
      // Every survivor serves again directly, and none was restarted.
      for (const instance of survivors) expect(await statusOf(fetch(`${instance.url}${key}`))).toBe(200);
      expect(survivors.map((i) => i.pid)).toEqual(pids);
      expect(survivors.every((i) => i.alive())).toBe(true);
    }, 60_000);
  });
}
