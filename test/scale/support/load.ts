/**
 * Closed-loop request loops for the scale test: `concurrency` workers, each
 * sending its next request when the previous one finished, until stopped.
 * Every request is recorded with when it started and ended and how it went,
 * so a test can ask which requests failed around an event (a kill, a restart).
 */

export interface LoadRecord {
  /** ms since the loop started (performance.now based). */
  start: number;
  end: number;
  /** HTTP status, or 0 when the request failed without an answer (socket error, timeout). */
  status: number;
  ok: boolean;
  /** Why a request without an answer failed. */
  error?: string;
}

export interface LoadLoop {
  /** ms since the loop started. */
  now(): number;
  records(): readonly LoadRecord[];
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<LoadRecord[]>;
}

/** One request of the loop; resolves with the HTTP status. `worker` and `n` let it vary keys. */
export type LoadRequest = (worker: number, n: number, signal: AbortSignal) => Promise<number>;

export function startLoad(concurrency: number, request: LoadRequest, isOk: (status: number) => boolean, timeoutMs = 5000): LoadLoop {
  const origin = performance.now();
  const now = () => performance.now() - origin;
  const records: LoadRecord[] = [];
  let stopped = false;
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    for (let n = 0; !stopped; n++) {
      const start = now();
      let status = 0;
      let error: string | undefined;
      try {
        status = await request(worker, n, AbortSignal.timeout(timeoutMs));
      } catch (thrown) {
        status = 0;
        const cause = (thrown as { cause?: unknown }).cause;
        error = `${String(thrown)}${cause === undefined ? '' : ` (${String(cause)})`}`;
      }
      records.push({ start, end: now(), status, ok: status !== 0 && isOk(status), ...(error === undefined ? {} : { error }) });
    }
  });
  return {
    now,
    records: () => records,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return records;
    },
  };
}

/** Status of a request whose body is read and dropped (so the connection is reused). */
export async function statusOf(response: Promise<Response>): Promise<number> {
  const answer = await response;
  await answer.arrayBuffer();
  return answer.status;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] as number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns true; false when `timeoutMs` passed first. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}
