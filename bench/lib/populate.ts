import type { CachePort } from '../../src/core/port.js';
import { errorMessage } from './measurement.js';
import type { Workload } from './workload.js';

const CHUNK = 500;
const PARALLEL_SETS = 32;

/**
 * Writes the workload's keys (no expiry) through the port: setMany in chunks,
 * or single sets when setMany is missing. Returns why it failed, if it did.
 */
export async function populateThroughPort(port: CachePort, ns: string, w: Workload): Promise<string | undefined> {
  try {
    for (let start = 0; start < w.keyCount; start += CHUNK) {
      const items = [];
      for (let i = start; i < Math.min(w.keyCount, start + CHUNK); i++) items.push({ key: w.key(i), value: w.value, ttl: null });
      await port.setMany(ns, items);
    }
    return undefined;
  } catch (error) {
    const viaSetMany = errorMessage(error);
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < w.keyCount) {
          const i = next++;
          await port.set(ns, w.key(i), w.value, { ttl: null });
        }
      };
      await Promise.all(Array.from({ length: PARALLEL_SETS }, worker));
      return undefined;
    } catch (fallbackError) {
      return `populating failed (setMany: ${viaSetMany}; set: ${errorMessage(fallbackError)})`;
    }
  }
}

/** Reads must measure hits: checks a few pre-populated keys come back whole. */
export async function verifyPopulated(port: CachePort, ns: string, w: Workload): Promise<string | undefined> {
  for (const i of [0, Math.floor(w.keyCount / 2), w.keyCount - 1]) {
    try {
      const entry = await port.get(ns, w.key(i));
      if (entry === undefined) return `pre-populated key ${w.key(i)} not found`;
      if (!entry.value.equals(w.value)) return `pre-populated key ${w.key(i)} came back with ${entry.value.length} different bytes`;
    } catch (error) {
      return `reading a pre-populated key failed: ${errorMessage(error)}`;
    }
  }
  return undefined;
}
