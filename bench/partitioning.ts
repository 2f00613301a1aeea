/**
 * `npm run bench:partitioning`: does hash partitioning of `entries` by
 * namespace cost anything on a single-row workload? docs/scale-out.md names
 * it as the path past one Postgres table; this measures its price here.
 *
 * In a throwaway schema: an `entries`-shaped UNLOGGED table, and the same
 * table `PARTITION BY HASH (ns)` with 8 UNLOGGED partitions (a partitioned
 * parent has no storage of its own, so it cannot be UNLOGGED itself). Both
 * get the same rows, then the same closed-loop workloads with postgres.js
 * (named prepared statements, as the adapter sends them): a get by (ns, key)
 * and an upsert of one row. Plain and partitioned runs alternate, best run of
 * each kept (interference on a shared machine only slows a run down), and
 * the ratio partitioned / plain is printed and written to
 * bench/results/partitioning.md. The schema is dropped at the end, also on
 * Ctrl-C. 127.0.0.1 only; about a minute.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { runClosedLoop } from './lib/closed-loop.js';
import { bestRun, type Measurement } from './lib/measurement.js';

const URL_ = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = `cpbench_part_${process.pid}`;
const PARTITIONS = 8;
const NAMESPACES = 32;
const KEYS_PER_NAMESPACE = 2000;
const VALUE = Buffer.alloc(256, 'v');
const CONCURRENCY = 16;
const RUN_MS = Number(process.env.BENCH_PARTITION_RUN_MS ?? 3000);
const ROUNDS = 3;
const RESULTS = fileURLToPath(new URL('./results/partitioning.md', import.meta.url));

type Variant = 'plain' | 'partitioned';
const TABLES: Record<Variant, string> = { plain: 'entries_plain', partitioned: 'entries_hashed' };

/** The columns and key of drizzle's `entries` (0000_init.sql). */
const COLUMNS = `
  ns text NOT NULL,
  key text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  content_type text NOT NULL,
  etag text NOT NULL,
  tags text[] DEFAULT '{}'::text[] NOT NULL,
  size integer NOT NULL,
  created_at timestamptz DEFAULT now() NOT NULL,
  updated_at timestamptz DEFAULT now() NOT NULL,
  expires_at timestamptz,
  accessed_at timestamptz DEFAULT now() NOT NULL,
  hits bigint DEFAULT 0 NOT NULL,
  PRIMARY KEY (ns, key)`;

const sql = postgres(URL_, { max: CONCURRENCY, onnotice: () => {}, connection: { search_path: SCHEMA } });

async function setUp(): Promise<void> {
  await sql.unsafe(`CREATE SCHEMA ${SCHEMA}`);
  await sql.unsafe(`CREATE UNLOGGED TABLE ${SCHEMA}.entries_plain (${COLUMNS})`);
  await sql.unsafe(`CREATE TABLE ${SCHEMA}.entries_hashed (${COLUMNS}) PARTITION BY HASH (ns)`);
  for (let i = 0; i < PARTITIONS; i++) {
    await sql.unsafe(
      `CREATE UNLOGGED TABLE ${SCHEMA}.entries_hashed_${i} PARTITION OF ${SCHEMA}.entries_hashed FOR VALUES WITH (MODULUS ${PARTITIONS}, REMAINDER ${i})`,
    );
  }
  for (const table of Object.values(TABLES)) {
    await sql.unsafe(
      `INSERT INTO ${SCHEMA}.${table} (ns, key, value, content_type, etag, size, expires_at)
       SELECT 'ns-' || n, 'k:' || lpad(k::text, 6, '0'), $1, 'application/octet-stream', md5(n || ':' || k), $2, now() + interval '1 hour'
         FROM generate_series(0, ${NAMESPACES - 1}) n, generate_series(0, ${KEYS_PER_NAMESPACE - 1}) k`,
      [VALUE, VALUE.length],
    );
    await sql.unsafe(`ANALYZE ${SCHEMA}.${table}`);
  }
}

let dropped = false;
async function tearDown(): Promise<void> {
  if (dropped) return;
  dropped = true;
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await sql.end({ timeout: 5 });
}

function randomRow(): { ns: string; key: string } {
  const n = Math.floor(Math.random() * NAMESPACES);
  const k = Math.floor(Math.random() * KEYS_PER_NAMESPACE);
  return { ns: `ns-${n}`, key: `k:${String(k).padStart(6, '0')}` };
}

/** The adapter's get and set shapes, on one table (its name from the fixed set above). */
const WORKLOADS = {
  get: (table: string) => () => {
    const { ns, key } = randomRow();
    return sql`SELECT key, value, content_type, etag, tags, expires_at FROM ${sql(table)}
                WHERE ns = ${ns} AND key = ${key} AND (expires_at IS NULL OR expires_at > now())`;
  },
  upsert: (table: string) => () => {
    const { ns, key } = randomRow();
    return sql`INSERT INTO ${sql(table)} AS e (ns, key, value, content_type, etag, size, expires_at)
               VALUES (${ns}, ${key}, ${VALUE}, 'application/octet-stream', md5(random()::text), ${VALUE.length}, now() + interval '1 hour')
               ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, etag = excluded.etag, size = excluded.size,
                 expires_at = excluded.expires_at, updated_at = now()`;
  },
} as const;

type WorkloadName = keyof typeof WORKLOADS;

async function measure(workload: WorkloadName): Promise<Record<Variant, Measurement>> {
  const runs: Record<Variant, Measurement[]> = { plain: [], partitioned: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so drift in the machine's load does not favour one.
    const order: Variant[] = round % 2 === 0 ? ['plain', 'partitioned'] : ['partitioned', 'plain'];
    for (const variant of order) {
      const m = await runClosedLoop(WORKLOADS[workload](TABLES[variant]), { concurrency: CONCURRENCY, warmupMs: 500, durationMs: RUN_MS });
      if (m.errors > 0) throw new Error(`${workload} on ${variant}: ${m.errors} errors, first: ${m.firstError}`);
      runs[variant].push(m);
    }
  }
  return { plain: bestRun(runs.plain), partitioned: bestRun(runs.partitioned) };
}

function row(workload: string, result: Record<Variant, Measurement>): string {
  const { plain, partitioned } = result;
  return `| ${workload} | ${Math.round(plain.opsPerSec)} (p99 ${plain.p99.toFixed(2)} ms) | ${Math.round(partitioned.opsPerSec)} (p99 ${partitioned.p99.toFixed(2)} ms) | ${(partitioned.opsPerSec / plain.opsPerSec).toFixed(2)}× |`;
}

async function main(): Promise<void> {
  process.once('SIGINT', () => {
    void tearDown().finally(() => process.exit(130));
  });
  const started = new Date().toISOString();
  const load = loadavg().map((l) => l.toFixed(1));
  try {
    await setUp();
    const lines = [
      '# Hash partitioning of `entries` by namespace',
      '',
      `Run ${started} by \`npm run bench:partitioning\` (bench/partitioning.ts) on ${availableParallelism()} cores, load average ${load.join(' / ')} at the start.`,
      `${NAMESPACES} namespaces × ${KEYS_PER_NAMESPACE} keys, ${VALUE.length}-byte values, UNLOGGED; plain table vs PARTITION BY HASH (ns) with ${PARTITIONS} partitions;`,
      `postgres.js, ${CONCURRENCY} concurrent single-row calls, ${ROUNDS} alternating runs of ${RUN_MS / 1000} s each, best run kept.`,
      '',
      '| workload | plain, calls/s | partitioned, calls/s | partitioned / plain |',
      '|---|---|---|---|',
    ];
    for (const workload of Object.keys(WORKLOADS) as WorkloadName[]) {
      const result = await measure(workload);
      lines.push(row(workload, result));
      process.stderr.write(`${lines.at(-1)}\n`);
    }
    lines.push('');
    await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
    await writeFile(RESULTS, `${lines.join('\n')}\n`);
    process.stdout.write(`${lines.join('\n')}\nwritten to bench/results/partitioning.md\n`);
  } finally {
    await tearDown();
  }
}

await main();
