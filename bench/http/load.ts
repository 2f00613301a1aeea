/**
 * HTTP load with autocannon, run programmatically: `connections` keep-alive
 * connections each sending its next request when the previous one answered
 * (closed loop), for a fixed duration. Non-2xx answers count as errors.
 */
import { createHistogram } from 'node:perf_hooks';
import autocannon, { type Instance, type Result } from 'autocannon';
import type { Measurement } from '../lib/measurement.js';

export interface HttpLoadOptions {
  /** http://127.0.0.1:<port> */
  origin: string;
  /** A fresh path per request (random key). */
  nextPath(): string;
  connections: number;
  warmupMs: number;
  durationMs: number;
}

function start(options: HttpLoadOptions, durationMs: number): Instance {
  return autocannon({
    url: options.origin,
    connections: options.connections,
    duration: durationMs / 1000,
    // The run ends on the first sample after `duration`: sample often so it ends on time.
    sampleInt: 250,
    timeout: 10,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: options.nextPath() }) }],
  });
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<Measurement> {
  if (options.warmupMs > 0) await start(options, options.warmupMs);
  // autocannon's own percentiles are whole milliseconds; record responses in µs here.
  const latencyUs = createHistogram();
  const instance = start(options, options.durationMs);
  instance.on('response', (_client, _status, _bytes, responseTime) => latencyUs.record(Math.max(1, Math.round(responseTime * 1000))));
  const result: Result = await instance;
  const ok = result['2xx'];
  const errors = result.errors + result.timeouts + result.non2xx;
  const statuses = Object.entries(result.statusCodeStats)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, s]) => `${code}×${s.count}`);
  const firstError =
    errors === 0
      ? undefined
      : statuses.length > 0
        ? `HTTP ${statuses.join(', ')}`
        : `${result.errors} connection errors, ${result.timeouts} timeouts`;
  const measured = latencyUs.count > 0;
  return {
    opsPerSec: result.duration > 0 ? ok / result.duration : 0,
    p50: measured ? latencyUs.percentile(50) / 1000 : result.latency.p50,
    p99: measured ? latencyUs.percentile(99) / 1000 : result.latency.p99,
    ops: ok,
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  };
}
