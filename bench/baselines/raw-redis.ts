/**
 * Baseline B: raw ioredis commands for the same work, on keys of the bench
 * prefix (`<prefix>:__raw:<key>`, which no namespace can collide with), one
 * connection like the adapter's.
 */
import { Redis } from 'ioredis';
import type { Operation } from '../lib/closed-loop.js';
import { BENCH_TTL_MS, type PortOpName } from '../lib/port-ops.js';
import type { Workload } from '../lib/workload.js';
import type { BaselineOp } from './raw-postgres.js';

export interface RawRedis {
  ops: Partial<Record<PortOpName, BaselineOp>>;
  close(): Promise<void>;
}

/** Where baseline B keeps workload key `key` (webdis reads the same keys). */
export function rawRedisKey(prefix: string, key: string): string {
  return `${prefix}:__raw:${key}`;
}

export async function createRawRedis(url: string, prefix: string, w: Workload, batchSize: number): Promise<RawRedis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true });
  await redis.connect();
  const redisKey = (key: string): string => rawRedisKey(prefix, key);

  // Pre-populate in pipelined chunks, without expiry.
  for (let start = 0; start < w.keyCount; start += 1000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(w.keyCount, start + 1000); i++) pipeline.set(redisKey(w.key(i)), w.value);
    await pipeline.exec();
  }

  const set: Operation = () => redis.set(redisKey(w.randomKey()), w.value, 'PX', BENCH_TTL_MS);
  const setMany: Operation = () => {
    const pipeline = redis.pipeline();
    for (const key of w.randomKeys(batchSize)) pipeline.set(redisKey(key), w.value, 'PX', BENCH_TTL_MS);
    return pipeline.exec();
  };

  return {
    ops: {
      get: { label: 'GET', op: () => redis.getBuffer(redisKey(w.randomKey())) },
      set: { label: 'SET PX', op: set },
      getMany: { label: 'MGET 64', op: () => redis.mgetBuffer(...w.randomKeys(batchSize).map(redisKey)) },
      setMany: { label: 'pipeline 64× SET PX', op: setMany },
      increment: { label: 'INCR', op: () => redis.incr(redisKey(w.randomCounterKey())) },
      // No raw equivalent: compared with one single-key write round trip.
      rateLimit: { label: 'SET PX (ref)', op: set, reuse: 'set' },
      lock: { label: 'SET PX (ref)', op: set, reuse: 'set' },
    },
    async close() {
      await redis.quit();
    },
  };
}
