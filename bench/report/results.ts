import type { CacheLayerOutcome } from '../sections/cache-layer.js';
import type { CleanupOutcome } from '../sections/cleanup-case.js';
import type { HttpRow } from '../sections/http.js';
import type { WrkRow } from '../sections/wrk.js';
import type { WrkMpRow } from '../sections/wrk-mp.js';
import type { PortRow } from '../sections/port-cases.js';
import type { CoalescingOffRow, DurabilityRow, SweepRow } from '../sections/postgres.js';
import type { BenchSettings } from '../lib/settings.js';

/** Everything one run measured; latest.json is this object. */
export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    elapsedSeconds: number;
    mode: 'quick' | 'full';
    /** The sections this run measured: all, or those BENCH_SECTIONS named (the others' tables are empty). */
    sections: 'all' | string[];
    node: string;
    cpus: number;
    /** 1-minute load average when the run started and ended: how busy the shared machine was. */
    loadAverage: { start: number; end: number };
    selection: string;
  };
  settings: BenchSettings;
  postgres: { rows: PortRow[]; coalescingOff: CoalescingOffRow[]; durability: DurabilityRow[]; sweep: SweepRow[] };
  redis: { rows: PortRow[] };
  http: { rows: HttpRow[] };
  wrk: { rows: WrkRow[] };
  /** Issue 18: WEB_CONCURRENCY=1 vs 2 under wrk pinned with taskset (bench/sections/wrk-mp.ts); absent in older runs. */
  wrkMp?: { rows: WrkMpRow[] };
  cleanup: CleanupOutcome;
  /** Issue 16: local cache, getOrSet and change-feed delay (bench/sections/cache-layer.ts). */
  cacheLayer: CacheLayerOutcome;
  notes: string[];
}
