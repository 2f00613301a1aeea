/**
 * HTTP with wrk: req/s and the server's CPU µs per request for a bare Hono
 * route (constant 1 KiB body, same runtime), cacheport's /health, a GET of a
 * cached 1 KiB entry on Postgres and on Redis, and webdis; each under a
 * uniform and a hot-key (Zipf) choice of keys, with ratios against bare Hono
 * of the same workload in the same run. Skipped with a note when wrk is not
 * installed. The entries live in a namespace of their own (`<ns>-wrk`), so
 * this section can run alone (BENCH_SECTIONS=wrk); run.ts removes them.
 */
import { Redis } from 'ioredis';
import { runMigrations } from '../../src/adapters/postgres/migrate.js';
import { rawRedisKey } from '../baselines/raw-redis.js';
import { startChildServer, type ChildServer } from '../http/child-server.js';
import { findWebdis, startWebdis } from '../http/webdis.js';
import { createPostgresAdapter, createRedisAdapter, type Loaded } from '../lib/adapters.js';
import { measureInterleaved, type InterleaveContext, type Variant } from '../lib/interleave.js';
import { errorMessage, type CaseOutcome, type Measurement } from '../lib/measurement.js';
import { populateThroughPort, verifyPopulated } from '../lib/populate.js';
import type { BenchSettings } from '../lib/settings.js';
import { createWorkload, type Workload } from '../lib/workload.js';
import type { CachePort } from '../../src/core/port.js';
import type { KeyDistribution, PathPlan } from '../wrk/lua.js';
import { canReadProcessCpu, processCpuUs } from '../wrk/process-cpu.js';
import { findWrk, runWrk } from '../wrk/wrk.js';
import { appEnv, checkServes } from './http.js';

export const WRK_TARGETS = ['bare-hono', 'health', 'postgres', 'redis', 'local-cache', 'webdis'] as const;
export type WrkTarget = (typeof WRK_TARGETS)[number];
export const WRK_WORKLOADS: readonly KeyDistribution[] = ['uniform', 'zipf'];

export interface WrkRow {
  target: WrkTarget;
  workload: KeyDistribution;
  connections: number;
  outcome: CaseOutcome;
}

export interface WrkResults {
  rows: WrkRow[];
  notes: string[];
}

/** A started server and how to build its request paths; or why the target is n/a. */
interface Target {
  server?: ChildServer;
  /** Only /health is fixed: it is measured once, under the uniform workload. */
  plan?: (workload: KeyDistribution) => PathPlan;
  naReason?: string;
}

/** Workload keys are `k:` + zero-padded index (bench/lib/workload.ts); webdis reads them under their own raw names. */
export const KEY_PREFIX = 'k:';
const WEBDIS_KEY_PREFIX = 'wrk-';

function keyWidth(w: Workload): number {
  return w.key(0).length - KEY_PREFIX.length;
}

export function keyedPlan(settings: BenchSettings, w: Workload, prefix: string, suffix: string): (workload: KeyDistribution) => PathPlan {
  return (distribution) => ({
    kind: 'keyed',
    prefix,
    suffix,
    keyCount: w.keyCount,
    width: keyWidth(w),
    distribution,
    zipfExponent: settings.zipfExponent,
  });
}

export async function populatePort(loaded: Loaded<CachePort>, ns: string, w: Workload): Promise<string | undefined> {
  if (!loaded.ok) return loaded.reason;
  try {
    return (await populateThroughPort(loaded.value, ns, w)) ?? (await verifyPopulated(loaded.value, ns, w));
  } finally {
    await loaded.value.close();
  }
}

async function populateWebdisKeys(settings: BenchSettings, w: Workload): Promise<void> {
  const redis = new Redis(settings.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    for (let start = 0; start < w.keyCount; start += 1000) {
      const pipeline = redis.pipeline();
      for (let i = start; i < Math.min(w.keyCount, start + 1000); i++)
        pipeline.set(rawRedisKey(settings.redisPrefix, WEBDIS_KEY_PREFIX + w.key(i)), w.value);
      await pipeline.exec();
    }
  } finally {
    await redis.quit();
  }
}

/** Why each data-backed target cannot be measured, if it cannot. */
interface Prepared {
  postgres?: string;
  redis?: string;
  webdis?: string;
  local?: string;
}

/** The namespace of the local-cache target: same keys and values, configured with `localCache`. */
const localNamespace = (ns: string): string => `${ns}-local`;

/**
 * A 1 h local ttl and room for every key: the measured path is the local hit itself (after the warm-up
 * run has read each key once per process), not the backend refills a 5 s ttl would add.
 */
async function prepareLocalCache(settings: BenchSettings, w: Workload, ns: string): Promise<string | undefined> {
  const loaded = await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax: 4 });
  if (!loaded.ok) return loaded.reason;
  try {
    await loaded.value.configure(localNamespace(ns), { localCache: { maxEntries: Math.min(1_000_000, w.keyCount), ttl: 3_600_000 } });
  } catch (error) {
    await loaded.value.close();
    return `configuring localCache failed: ${errorMessage(error)}`;
  }
  return populatePort(loaded, localNamespace(ns), w);
}

async function prepareData(settings: BenchSettings, w: Workload, ns: string, log: (line: string) => void): Promise<Prepared> {
  const prepared: Prepared = {};
  log(`[wrk] populating ${w.keyCount.toLocaleString('en-US')} keys of ${w.value.length} B in ${ns} (Postgres, Redis, webdis keys)`);
  try {
    await runMigrations(settings.pgUrl, settings.schema);
    const postgres = await populatePort(await createPostgresAdapter({ url: settings.pgUrl, schema: settings.schema, poolMax: 4 }), ns, w);
    if (postgres !== undefined) prepared.postgres = postgres;
    const local = await prepareLocalCache(settings, w, ns);
    if (local !== undefined) prepared.local = local;
  } catch (error) {
    prepared.postgres = `populating failed: ${errorMessage(error)}`;
  }
  const redis = await populatePort(await createRedisAdapter({ url: settings.redisUrl, prefix: settings.redisPrefix }), ns, w).catch(
    errorMessage,
  );
  if (redis !== undefined) prepared.redis = redis;
  await populateWebdisKeys(settings, w).catch((error: unknown) => {
    prepared.webdis = `populating raw keys failed: ${errorMessage(error)}`;
  });
  return prepared;
}

async function answers200(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.status === 200 ? undefined : `GET answered ${response.status}`;
  } catch (error) {
    return `GET failed: ${errorMessage(error)}`;
  }
}

/** Starts every target into `targets`; every server started is pushed to `started` (the caller stops them). */
async function startTargets(
  settings: BenchSettings,
  w: Workload,
  ns: string,
  prepared: Prepared,
  targets: Map<WrkTarget, Target>,
  started: ChildServer[],
  log: (line: string) => void,
): Promise<void> {
  const entryPlan = keyedPlan(settings, w, `/v1/cache/${ns}/${KEY_PREFIX}`, '');
  const start = async (
    name: WrkTarget,
    launch: () => Promise<ChildServer>,
    plan: Target['plan'],
    check: (origin: string) => Promise<string | undefined>,
  ) => {
    let server: ChildServer;
    try {
      server = await launch();
    } catch (error) {
      targets.set(name, { naReason: `server did not start: ${errorMessage(error)}` });
      return undefined;
    }
    started.push(server);
    const problem =
      server.pid === undefined || !(await canReadProcessCpu(server.pid))
        ? 'cannot read the server process CPU time from /proc'
        : await check(server.url);
    targets.set(name, problem === undefined ? { server, plan } : { naReason: problem });
    return server;
  };
  const firstEntry = (origin: string) => checkServes(`${origin}/v1/cache/${ns}/${w.key(0)}`, w.value.length);

  await start('bare-hono', () => startChildServer('bare-hono', {}), entryPlan, firstEntry);
  if (prepared.postgres === undefined) {
    // Room for every key of the localCache target (100,000 × 1 KiB and their keys): the default 64 MiB would evict.
    const localRoom = { CACHE_LOCAL_CACHE_MAX_BYTES: String(Math.max(64 * 1024 * 1024, w.keyCount * (w.value.length + 512))) };
    const app = await start(
      'postgres',
      () => startChildServer('app', { ...appEnv(settings, 'postgres'), ...localRoom }),
      entryPlan,
      firstEntry,
    );
    if (app !== undefined) {
      const problem = await answers200(`${app.url}/health`);
      targets.set(
        'health',
        problem === undefined ? { server: app, plan: () => ({ kind: 'fixed', path: '/health' }) } : { naReason: problem },
      );
    } else {
      targets.set('health', { naReason: targets.get('postgres')?.naReason ?? 'not started' });
    }
    // GET of a hit on a `localCache` namespace, served by the same Postgres app from its process memory.
    const localPrefix = `/v1/cache/${localNamespace(ns)}/${KEY_PREFIX}`;
    const localProblem =
      app === undefined
        ? (targets.get('postgres')?.naReason ?? 'not started')
        : (prepared.local ?? (await checkServes(`${app.url}${localPrefix}${w.key(0).slice(KEY_PREFIX.length)}`, w.value.length)));
    // The target is the hit: read every key once first (the 1 s warm-up run reads only a few thousand).
    const warmProblem = localProblem === undefined && app !== undefined ? await readEveryKey(app.url, localPrefix, w, log) : localProblem;
    targets.set(
      'local-cache',
      warmProblem === undefined && app !== undefined
        ? { server: app, plan: keyedPlan(settings, w, localPrefix, '') }
        : { naReason: `${warmProblem}` },
    );
  } else {
    targets.set('postgres', { naReason: prepared.postgres });
    targets.set('health', { naReason: `served by the Postgres app, which is n/a: ${prepared.postgres}` });
    targets.set('local-cache', { naReason: `served by the Postgres app, which is n/a: ${prepared.postgres}` });
  }
  if (prepared.redis === undefined) await start('redis', () => startChildServer('app', appEnv(settings, 'redis')), entryPlan, firstEntry);
  else targets.set('redis', { naReason: prepared.redis });

  const webdis = findWebdis();
  if (webdis === undefined) targets.set('webdis', { naReason: 'webdis is not installed (Debian package `webdis`)' });
  else if (prepared.webdis !== undefined) targets.set('webdis', { naReason: prepared.webdis });
  else {
    const rawPrefix = `/GET/${rawRedisKey(settings.redisPrefix, WEBDIS_KEY_PREFIX + KEY_PREFIX)}`;
    await start(
      'webdis',
      () => startWebdis(webdis, settings.redisUrl),
      keyedPlan(settings, w, rawPrefix, '.txt'),
      (origin) => checkServes(`${origin}/GET/${rawRedisKey(settings.redisPrefix, WEBDIS_KEY_PREFIX + w.key(0))}.txt`, w.value.length),
    );
  }
}

/** GETs every key of the workload through `origin` (64 at a time), so a local cache holds them all. */
async function readEveryKey(origin: string, prefix: string, w: Workload, log: (line: string) => void): Promise<string | undefined> {
  log(`[wrk] reading ${w.keyCount.toLocaleString('en-US')} keys once so the local cache holds them`);
  let next = 0;
  let problem: string | undefined;
  const reader = async (): Promise<void> => {
    while (problem === undefined && next < w.keyCount) {
      const key = w.key(next++).slice(KEY_PREFIX.length);
      const answer = await fetch(`${origin}${prefix}${key}`);
      await answer.arrayBuffer();
      if (answer.status !== 200) problem = `warming the local cache: GET ${prefix}${key} answered ${answer.status}`;
    }
  };
  await Promise.all(Array.from({ length: 64 }, reader));
  return problem;
}

/** A warm-up run, then the measured run with the server's CPU time read around it. */
async function measure(
  binary: string,
  settings: BenchSettings,
  server: ChildServer,
  plan: PathPlan,
  connections: number,
): Promise<Measurement> {
  const pid = server.pid;
  if (pid === undefined) throw new Error('server has no pid');
  const run = (durationMs: number) => runWrk({ binary, origin: server.url, plan, connections, threads: settings.wrkThreads, durationMs });
  await run(settings.wrkWarmupMs);
  const before = await processCpuUs(pid);
  const m = await run(settings.wrkDurationMs);
  const cpuUs = (await processCpuUs(pid)) - before;
  return m.ops > 0 ? { ...m, serverCpuUsPerOp: cpuUs / m.ops } : m;
}

function allRows(settings: BenchSettings, outcome: (target: WrkTarget) => CaseOutcome): WrkRow[] {
  return settings.wrkConnections.flatMap((connections) =>
    WRK_WORKLOADS.flatMap((workload) =>
      WRK_TARGETS.filter((target) => target !== 'health' || workload === 'uniform').map((target) => ({
        target,
        workload,
        connections,
        outcome: outcome(target),
      })),
    ),
  );
}

export async function runWrkSection(settings: BenchSettings, ctx: InterleaveContext): Promise<WrkResults> {
  const binary = findWrk();
  if (binary === undefined) {
    const reason = 'wrk is not installed (Debian package `wrk`)';
    return { rows: allRows(settings, () => ({ status: 'n/a', reason })), notes: [`HTTP with wrk skipped: ${reason}.`] };
  }
  if (ctx.budget.exhausted()) return { rows: allRows(settings, () => ({ status: 'skipped', reason: ctx.budget.reason() })), notes: [] };

  const ns = `${settings.ns}-wrk`;
  const w = createWorkload(settings.wrkKeyCount, settings.valueBytes);
  const prepared = await prepareData(settings, w, ns, ctx.log);
  const rows: WrkRow[] = [];
  const targets = new Map<WrkTarget, Target>();
  const started: ChildServer[] = [];
  try {
    await startTargets(settings, w, ns, prepared, targets, started, ctx.log);
    for (const connections of settings.wrkConnections) {
      for (const workload of WRK_WORKLOADS) {
        ctx.log(`[wrk] ${workload} keys, ${connections} connections`);
        const names = WRK_TARGETS.filter((name) => name !== 'health' || workload === 'uniform');
        const variants: Variant[] = names.map((name) => {
          const target = targets.get(name);
          const id = `wrk ${name} ${workload} c=${connections}`;
          const server = target?.server;
          const plan = target?.plan;
          if (server === undefined || plan === undefined) return { id, naReason: target?.naReason ?? 'not started' };
          return { id, run: () => measure(binary, settings, server, plan(workload), connections) };
        });
        const outcomes = await measureInterleaved(variants, ctx);
        for (const name of names) {
          rows.push({
            target: name,
            workload,
            connections,
            outcome: outcomes.get(`wrk ${name} ${workload} c=${connections}`) ?? { status: 'n/a', reason: 'missing' },
          });
        }
      }
    }
  } finally {
    for (const server of started) await server.stop();
  }
  return { rows, notes: [] };
}
