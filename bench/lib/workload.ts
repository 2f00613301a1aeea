import { randomBytes } from 'node:crypto';

/**
 * The data every case works on: `keyCount` pre-populated keys with values of
 * `valueBytes` random bytes, and random (uniform) key choice per call.
 */
export interface Workload {
  keyCount: number;
  value: Buffer;
  /** Entry key i, zero-padded so every key has the same length. */
  key(i: number): string;
  randomKey(): string;
  /** `count` distinct random keys, sorted (batch writes then lock rows in one order). */
  randomKeys(count: number): string[];
  randomCounterKey(): string;
  randomRateLimitKey(): string;
  randomLockName(): string;
}

function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

export function createWorkload(keyCount: number, valueBytes: number): Workload {
  const width = String(keyCount - 1).length;
  const key = (i: number): string => `k:${String(i).padStart(width, '0')}`;
  return {
    keyCount,
    value: randomBytes(valueBytes),
    key,
    randomKey: () => key(randomIndex(keyCount)),
    randomKeys(count) {
      const chosen = new Set<number>();
      while (chosen.size < Math.min(count, keyCount)) chosen.add(randomIndex(keyCount));
      return [...chosen].sort((a, b) => a - b).map(key);
    },
    randomCounterKey: () => `ctr:${randomIndex(keyCount)}`,
    randomRateLimitKey: () => `bench:rl:${randomIndex(keyCount)}`,
    randomLockName: () => `bench.lock.${randomIndex(keyCount)}`,
  };
}
