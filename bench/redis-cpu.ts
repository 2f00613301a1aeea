/**
 * Node CPU per operation, Redis adapter vs raw ioredis: process.cpuUsage()
 * (user + system) over a closed loop, divided by completed calls. Throughput
 * on the shared 2-core machine says more about the load than about the
 * adapter; CPU per call less so. Cases alternate, ROUNDS times; the best and
 * median round are printed (the least disturbed round is the best estimate).
 *
 * Cases: raw GET, raw GET timed (with ioredis commandTimeout), raw HMGET 5
 * (the adapter's read of one entry hash), wrapped HMGET (the same through the
 * adapter's connection and runCommand), adapter get, raw SET PX, adapter set.
 * REDIS_CPU_BASE=<dir holding another checkout's src/> adds that version's
 * adapter get/set ("base get", "base set") for an interleaved before/after
 * comparison. Keys live under the prefix `cpbench-cpu` and are removed at the end.
 *
 *   npx tsx bench/redis-cpu.ts            (c = 64, 1.5 s per case, 3 rounds)
 *   REDIS_CPU_C=1 REDIS_CPU_ROUNDS=10 REDIS_CPU_MS=500 REDIS_CPU_CASES='raw GET,adapter get' npx tsx bench/redis-cpu.ts
 */
import { Redis } from 'ioredis';
import { DEFAULT_ADAPTER_OPTIONS } from '../src/core/defaults.js';
import { createRedisPort } from '../src/adapters/redis/index.js';

const url = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const concurrency = Number(process.env.REDIS_CPU_C ?? 64);
const durationMs = Number(process.env.REDIS_CPU_MS ?? 1500);
const rounds = Number(process.env.REDIS_CPU_ROUNDS ?? 3);
const only = process.env.REDIS_CPU_CASES?.split(',');
const KEYS = 1000;
const prefix = 'cpbench-cpu';
const ns = 'cpu';
const value = Buffer.alloc(1024, 120);
const TTL = 10 * 60 * 1000;

const raw = new Redis(url, { maxRetriesPerRequest: 1 });
/** Raw ioredis with the adapter's per-command timer (commandTimeout), to price that timer alone (case 'raw GET timed'). */
const rawTimed = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: DEFAULT_ADAPTER_OPTIONS.timeoutMs });
const port = createRedisPort({ ...DEFAULT_ADAPTER_OPTIONS, url, prefix });
const baseDir = process.env.REDIS_CPU_BASE;
const base = baseDir
  ? ((await import(`${baseDir}/src/adapters/redis/index.js`)) as { createRedisPort: typeof createRedisPort }).createRedisPort({
      ...DEFAULT_ADAPTER_OPTIONS,
      url,
      prefix,
    })
  : undefined;
const key = (): string => `k${Math.floor(Math.random() * KEYS)}`;
const rawKey = (k: string): string => `${prefix}:__raw:${k}`;

for (let i = 0; i < KEYS; i++) {
  await raw.set(rawKey(`k${i}`), value, 'PX', TTL);
  await port.set(ns, `k${i}`, value, { ttl: TTL });
}

const cases: Record<string, () => Promise<unknown>> = {
  'raw GET': () => raw.getBuffer(rawKey(key())),
  'adapter get': () => port.get(ns, key()),
  'raw GET timed': () => rawTimed.getBuffer(rawKey(key())),
  'raw HMGET 5': () => raw.hmgetBuffer(`${prefix}:{${ns}}:${key()}`, 'v', 'c', 'e', 't', 'x'),
  // The adapter's command wrapper alone around the same HMGET (its connection, its options).
  'wrapped HMGET': () =>
    port.context.runCommand('get', () => port.redis.hmgetBuffer(`${prefix}:{${ns}}:${key()}`, 'v', 'c', 'e', 't', 'x')),
  ...(base ? { 'base get': () => base.get(ns, key()) } : {}),
  'raw SET PX': () => raw.set(rawKey(key()), value, 'PX', TTL),
  'adapter set': () => port.set(ns, key(), value, { ttl: TTL }),
  ...(base ? { 'base set': () => base.set(ns, key(), value, { ttl: TTL }) } : {}),
};

async function measure(op: () => Promise<unknown>): Promise<{ opsPerSec: number; cpuUs: number }> {
  let ops = 0;
  const warmEnd = performance.now() + 300;
  const worker = async (end: number, count: boolean): Promise<void> => {
    while (performance.now() < end) {
      await op();
      if (count) ops++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker(warmEnd, false)));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + durationMs;
  await Promise.all(Array.from({ length: concurrency }, () => worker(end, true)));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { opsPerSec: (ops / elapsed) * 1000, cpuUs: (cpu.user + cpu.system) / ops };
}

const results = new Map<string, { opsPerSec: number; cpuUs: number }[]>();
for (let r = 0; r < rounds; r++) {
  for (const [name, op] of Object.entries(cases)) {
    if (only && !only.includes(name)) continue;
    const m = await measure(op);
    const list = results.get(name) ?? [];
    list.push(m);
    results.set(name, list);
  }
}
console.log(`c = ${concurrency}, ${durationMs} ms per case, ${rounds} rounds`);
for (const [name, list] of results) {
  const ops = list.map((m) => m.opsPerSec).sort((a, b) => b - a);
  const cpu = list.map((m) => m.cpuUs).sort((a, b) => a - b);
  const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)] as number;
  console.log(
    `${name.padEnd(13)} ops/s best ${Math.round(ops[0] as number)} median ${Math.round(median(ops))}   ` +
      `Node CPU µs/op min ${(cpu[0] as number).toFixed(2)} median ${median(cpu).toFixed(2)}`,
  );
}
await port.close();
await base?.close();
// Everything under the prefix: entries, raw keys, the registry and the flushed counters.
let cursor = '0';
do {
  const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) await raw.unlink(...keys);
} while (cursor !== '0');
await raw.quit();
await rawTimed.quit();
