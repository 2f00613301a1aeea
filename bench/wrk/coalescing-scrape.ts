/**
 * The coalesced-get counters of every process of a running server, read from
 * its /metrics (cacheport_coalesced_{requests,statements}_total{op="get"}).
 * In multi-process mode each worker answers /metrics with its own figures,
 * labelled worker="<n>", and the primary hands each new connection to the
 * next worker: scrapes over fresh connections until every worker was seen.
 */
import { request } from 'node:http';

/** Coalesced gets of one process so far. */
export interface GetCoalescing {
  requests: number;
  statements: number;
}

/** The label of a process without a worker label (one process, no cluster). */
export const SINGLE_PROCESS = 'single';
/** Round robin reaches every worker within a few connections; more is a broken server. */
const MAX_SCRAPES = 40;

const SERIES = /^cacheport_coalesced_(requests|statements)_total\{op="get"(?:,worker="(\d+)")?\} (\d+)$/gm;

function scrapeOnce(origin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/metrics`, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One process's figures in a /metrics text: its worker label and its coalesced gets. */
export function parseGetCoalescing(text: string): { worker: string; counts: GetCoalescing } {
  const counts: GetCoalescing = { requests: Number.NaN, statements: Number.NaN };
  let worker: string | undefined;
  for (const match of text.matchAll(SERIES)) {
    counts[match[1] as 'requests' | 'statements'] = Number(match[3]);
    worker = match[2] ?? SINGLE_PROCESS;
  }
  if (worker === undefined || Number.isNaN(counts.requests) || Number.isNaN(counts.statements)) {
    throw new Error('/metrics has no cacheport_coalesced_*_total{op="get"} series');
  }
  return { worker, counts };
}

/** Every one of the `processes` serving processes' coalesced gets, by worker label. */
export async function scrapeGetCoalescing(origin: string, processes: number): Promise<Map<string, GetCoalescing>> {
  const seen = new Map<string, GetCoalescing>();
  for (let i = 0; i < MAX_SCRAPES && seen.size < processes; i++) {
    const { worker, counts } = parseGetCoalescing(await scrapeOnce(origin));
    if (!seen.has(worker)) seen.set(worker, counts);
  }
  if (seen.size < processes) throw new Error(`/metrics reached ${seen.size} of ${processes} processes in ${MAX_SCRAPES} scrapes`);
  return seen;
}

/** What each process coalesced between two scrapes. */
export function coalescingDelta(before: Map<string, GetCoalescing>, after: Map<string, GetCoalescing>): Map<string, GetCoalescing> {
  const delta = new Map<string, GetCoalescing>();
  for (const [worker, end] of after) {
    const start = before.get(worker);
    if (start === undefined || end.requests < start.requests) throw new Error(`worker ${worker} restarted during the run`);
    delta.set(worker, { requests: end.requests - start.requests, statements: end.statements - start.statements });
  }
  return delta;
}
