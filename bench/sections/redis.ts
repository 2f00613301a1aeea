/**
 * Redis: adapter vs baseline B for every op. Raw keys stay in Redis for the
 * webdis case; run.ts deletes every key of the bench prefix at the end.
 */
import { Redis } from 'ioredis';
import { createRawRedis } from '../baselines/raw-redis.js';
import { createRedisAdapter } from '../lib/adapters.js';
import type { InterleaveContext } from '../lib/interleave.js';
import { populateThroughPort, verifyPopulated } from '../lib/populate.js';
import type { BenchSettings } from '../lib/settings.js';
import type { Workload } from '../lib/workload.js';
import { runPortCases, type PortRow } from './port-cases.js';

export interface RedisResults {
  rows: PortRow[];
  notes: string[];
}

export async function runRedisSection(settings: BenchSettings, w: Workload, ctx: InterleaveContext): Promise<RedisResults> {
  const notes: string[] = [];
  const adapter = await createRedisAdapter({ url: settings.redisUrl, prefix: settings.redisPrefix });
  const raw = await createRawRedis(settings.redisUrl, settings.redisPrefix, w, settings.batchSize);
  try {
    let populateNa: string | undefined;
    if (adapter.ok) {
      populateNa = (await populateThroughPort(adapter.value, settings.ns, w)) ?? (await verifyPopulated(adapter.value, settings.ns, w));
      if (populateNa !== undefined) notes.push(`Redis: ${populateNa}; read cases are n/a.`);
    } else {
      notes.push(`Redis adapter: ${adapter.reason}`);
    }
    const rows = await runPortCases({
      backend: 'redis',
      port: adapter.ok ? adapter.value : undefined,
      ...(adapter.ok ? {} : { adapterNa: adapter.reason }),
      ...(populateNa === undefined ? {} : { populateNa }),
      baseline: raw.ops,
      settings,
      workload: w,
      ctx,
    });
    return { rows, notes };
  } finally {
    await raw.close();
    if (adapter.ok) await adapter.value.close();
  }
}

/** Deletes every key of the bench prefix (SCAN; bench only, the adapter never scans). */
export async function deleteBenchKeys(settings: BenchSettings): Promise<number> {
  const redis = new Redis(settings.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    const p = settings.redisPrefix;
    // Plain and hash-tagged layouts, whichever the adapter uses.
    for (const pattern of [`${p}:*`, `{${p}}*`, `${p}{*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) deleted += await redis.unlink(...keys);
      } while (cursor !== '0');
    }
  } finally {
    await redis.quit();
  }
  return deleted;
}
