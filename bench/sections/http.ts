/**
 * HTTP: GET of a cached 1 KiB entry through the real server (each backend)
 * vs baseline C (bare Hono route, constant 1 KiB body), plus webdis when
 * installed. Every server runs in its own child process; autocannon runs here.
 */
import { rawRedisKey } from '../baselines/raw-redis.js';
import { startChildServer, startMainServer, type ChildServer } from '../http/child-server.js';
import { runHttpLoad } from '../http/load.js';
import { findWebdis, startWebdis } from '../http/webdis.js';
import { measureInterleaved, type InterleaveContext, type Variant } from '../lib/interleave.js';
import { errorMessage, type CaseOutcome } from '../lib/measurement.js';
import type { BenchSettings } from '../lib/settings.js';
import type { Workload } from '../lib/workload.js';

export const HTTP_TARGETS = ['bare-hono', 'postgres', 'redis', 'webdis', 'postgres-cluster'] as const;

/** Worker processes of the `postgres-cluster` target (multi-process mode). */
export const BENCH_WEB_CONCURRENCY = process.env.BENCH_WEB_CONCURRENCY ?? 'auto';
export type HttpTarget = (typeof HTTP_TARGETS)[number];

export interface HttpRow {
  target: HttpTarget;
  connections: number;
  outcome: CaseOutcome;
}

export interface HttpResults {
  rows: HttpRow[];
  notes: string[];
}

interface Target {
  server?: ChildServer;
  nextPath: () => string;
  naReason?: string;
}

export function appEnv(settings: BenchSettings, backend: 'postgres' | 'redis'): Record<string, string> {
  return {
    CACHE_BACKEND: backend,
    DATABASE_URL: settings.pgUrl,
    CACHE_SCHEMA: settings.schema,
    REDIS_URL: settings.redisUrl,
    REDIS_PREFIX: settings.redisPrefix,
    PG_POOL_MAX: String(settings.poolMax),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    WORKER: 'off',
    // Anonymous on loopback, whatever the caller's environment says.
    CACHE_TOKENS: '',
    CACHE_TOKENS_FILE: '',
  };
}

/** One GET before loading: the target must answer 200 with the 1 KiB value, or its case is n/a. */
export async function checkServes(url: string, expectedBytes: number): Promise<string | undefined> {
  try {
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    if (response.status !== 200) return `GET answered ${response.status}`;
    if (body.byteLength !== expectedBytes) return `GET returned ${body.byteLength} bytes, expected ${expectedBytes}`;
    return undefined;
  } catch (error) {
    return `GET failed: ${errorMessage(error)}`;
  }
}

async function startTarget(name: HttpTarget, settings: BenchSettings, w: Workload): Promise<Target> {
  // Bench keys (`k:0042`) are path-safe: no encoding needed for either server.
  const entryPath = (): string => `/v1/cache/${settings.ns}/${w.randomKey()}`;
  let server: ChildServer;
  let nextPath = entryPath;
  try {
    if (name === 'bare-hono') server = await startChildServer('bare-hono', {});
    else if (name === 'postgres' || name === 'redis') server = await startChildServer('app', appEnv(settings, name));
    else if (name === 'postgres-cluster')
      server = await startMainServer({ ...appEnv(settings, 'postgres'), WEB_CONCURRENCY: BENCH_WEB_CONCURRENCY });
    else {
      const binary = findWebdis();
      if (binary === undefined) return { nextPath, naReason: 'webdis is not installed (Debian package `webdis`)' };
      server = await startWebdis(binary, settings.redisUrl);
      nextPath = () => `/GET/${rawRedisKey(settings.redisPrefix, w.randomKey())}.txt`;
    }
  } catch (error) {
    return { nextPath, naReason: `server did not start: ${errorMessage(error)}` };
  }
  const problem = await checkServes(server.url + nextPath(), w.value.length);
  if (problem !== undefined) {
    await server.stop();
    return { nextPath, naReason: problem };
  }
  return { server, nextPath };
}

export async function runHttpSection(settings: BenchSettings, w: Workload, ctx: InterleaveContext): Promise<HttpResults> {
  const notes: string[] = [];
  const targets = new Map<HttpTarget, Target>();
  const rows: HttpRow[] = [];
  if (ctx.budget.exhausted()) {
    const outcome: CaseOutcome = { status: 'skipped', reason: ctx.budget.reason() };
    return {
      rows: settings.httpConnections.flatMap((connections) => HTTP_TARGETS.map((target) => ({ target, connections, outcome }))),
      notes,
    };
  }
  try {
    for (const name of HTTP_TARGETS) {
      ctx.log(`[http] starting ${name}`);
      const target = await startTarget(name, settings, w);
      if (target.naReason !== undefined) notes.push(`HTTP ${name}: ${target.naReason}`);
      targets.set(name, target);
    }
    for (const connections of settings.httpConnections) {
      ctx.log(`[http] GET 1 KiB, ${connections} connections`);
      const variants: Variant[] = HTTP_TARGETS.map((name) => {
        const target = targets.get(name);
        const server = target?.server;
        const id = `http ${name} c=${connections}`;
        if (target === undefined || server === undefined) return { id, naReason: target?.naReason ?? 'not started' };
        return {
          id,
          run: () =>
            runHttpLoad({
              origin: server.url,
              nextPath: target.nextPath,
              connections,
              warmupMs: settings.httpWarmupMs,
              durationMs: settings.httpDurationMs,
            }),
        };
      });
      const outcomes = await measureInterleaved(variants, ctx);
      for (const name of HTTP_TARGETS) {
        const outcome: CaseOutcome = outcomes.get(`http ${name} c=${connections}`) ?? { status: 'n/a', reason: 'missing' };
        rows.push({ target: name, connections, outcome });
      }
    }
  } finally {
    for (const target of targets.values()) await target.server?.stop();
  }
  return { rows, notes };
}
