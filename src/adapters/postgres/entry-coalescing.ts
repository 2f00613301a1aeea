/**
 * Coalesced entry statements: concurrent single-key gets and unconditional
 * sets of one table merged into one statement per batch (see coalescer.ts).
 * One get batcher and one set batcher per table, created on first use.
 */
import type { SetResult } from '../../core/port.js';
import type { ResolvedWrite } from '../../core/write.js';
import { Coalescer, type Admission, type CoalescerOptions, type CoalescerStats } from './coalescer.js';
import type { Queryable } from './connection.js';
import { compareBytes, selectEntries, selectEntry, selectRequested, upsertRequested, writeEntry, type EntryRow } from './entry-sql.js';
import type { Ticket } from './pool-gate.js';
import type { EntryTable } from './tables.js';

/** A single-key read waiting to be coalesced. */
interface KeyRequest {
  ns: string;
  key: string;
}

/** An unconditional single-key write waiting to be coalesced. */
interface WriteRequest {
  ns: string;
  write: ResolvedWrite;
}

/** Per operation kind, summed over both tables. */
export interface CoalescingStats {
  get: CoalescerStats;
  set: CoalescerStats;
}

export class EntryCoalescing {
  private readonly getBatchers = new Map<EntryTable, Coalescer<KeyRequest, EntryRow | undefined>>();
  private readonly setBatchers = new Map<EntryTable, Coalescer<WriteRequest, SetResult>>();

  /** `admission`: each batch takes a pool slot, and is put together only once it has one. */
  constructor(
    private readonly sql: Queryable,
    private readonly settings: CoalescerOptions,
    private readonly admission?: Admission,
  ) {}

  /** `ticket`: dropped when the caller times out, so a batch still to be sent leaves the request out. */
  get(table: EntryTable, ns: string, key: string, ticket?: Ticket): Promise<EntryRow | undefined> {
    let batcher = this.getBatchers.get(table);
    if (!batcher) {
      batcher = new Coalescer((requests) => readBatch(this.sql, table, requests), this.settings, undefined, this.admission);
      this.getBatchers.set(table, batcher);
    }
    return batcher.submit({ ns, key }, ticket);
  }

  /** An unconditional write (condition 'always'). */
  set(table: EntryTable, ns: string, write: ResolvedWrite, ticket?: Ticket): Promise<SetResult> {
    let batcher = this.setBatchers.get(table);
    if (!batcher) {
      batcher = new Coalescer(
        (requests) => upsertBatch(this.sql, table, requests),
        this.settings,
        (r) => rowId(r.ns, r.write.key),
        this.admission,
      );
      this.setBatchers.set(table, batcher);
    }
    return batcher.submit({ ns, write }, ticket);
  }

  stats(): CoalescingStats {
    return { get: sumStats(this.getBatchers.values()), set: sumStats(this.setBatchers.values()) };
  }
}

function sumStats(batchers: Iterable<{ stats(): CoalescerStats }>): CoalescerStats {
  const total = { calls: 0, batches: 0 };
  for (const b of batchers) {
    const s = b.stats();
    total.calls += s.calls;
    total.batches += s.batches;
  }
  return total;
}

/**
 * Coalesced gets: one statement for many (ns, key) requests, possibly of
 * several namespaces and repeated keys; row `i` answers request `i`. A batch
 * of one uses the single-key statement.
 */
async function readBatch(sql: Queryable, table: EntryTable, requests: KeyRequest[]): Promise<(EntryRow | undefined)[]> {
  if (requests.length === 1) {
    const only = requests[0] as KeyRequest;
    return [(await selectEntry(sql, table, only.ns, only.key))[0]];
  }
  const ns = (requests[0] as KeyRequest).ns;
  if (requests.every((r) => r.ns === ns)) return readOneNamespace(sql, table, ns, requests);
  const rows = await selectRequested(
    sql,
    table,
    requests.map((r) => r.ns),
    requests.map((r) => r.key),
  );
  const results: (EntryRow | undefined)[] = new Array<EntryRow | undefined>(requests.length).fill(undefined);
  for (const row of rows) results[row.i - 1] = row;
  return results;
}

/**
 * The common batch: one namespace, so `key = ANY($2)` (one index scan, about
 * half the server time of the unnest join). A key asked twice is fetched once;
 * each later caller gets its own copy of the value.
 */
async function readOneNamespace(sql: Queryable, table: EntryTable, ns: string, requests: KeyRequest[]): Promise<(EntryRow | undefined)[]> {
  const rows = await selectEntries(sql, table, ns, [...new Set(requests.map((r) => r.key))]);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const handedOut = new Set<string>();
  return requests.map((r) => {
    const row = byKey.get(r.key);
    if (!row) return undefined;
    if (!handedOut.has(r.key)) {
      handedOut.add(r.key);
      return row;
    }
    return { ...row, value: Buffer.from(row.value), tags: [...row.tags] };
  });
}

/**
 * Coalesced unconditional sets: one unnest upsert, rows proposed in (ns, key)
 * byte order so concurrent batches lock rows in one order (no deadlock). The
 * coalescer never puts one key twice in a batch (ON CONFLICT cannot touch a row
 * twice). `created` as in writeEntry. A batch of one uses writeEntry.
 */
async function upsertBatch(sql: Queryable, table: EntryTable, requests: WriteRequest[]): Promise<SetResult[]> {
  if (requests.length === 1) {
    const only = requests[0] as WriteRequest;
    return [await writeEntry(sql, table, only.ns, only.write)];
  }
  const sorted = [...requests].sort((a, b) => compareBytes(a.ns, b.ns) || compareBytes(a.write.key, b.write.key));
  const rows = await upsertRequested(
    sql,
    table,
    sorted.map((r) => r.ns),
    sorted.map((r) => r.write),
  );
  const created = new Map(rows.map((r) => [rowId(r.ns, r.key), r.created]));
  return requests.map((r) => {
    const wasCreated = created.get(rowId(r.ns, r.write.key));
    // An unconditional upsert writes every row; a missing one would be a bug, not a miss.
    if (wasCreated === undefined) throw new Error(`coalesced set of ${JSON.stringify(r.write.key)} returned no row`);
    return { written: true, etag: r.write.etag, created: wasCreated };
  });
}

/** One (ns, key) as a map key: the coalescer merges by it and upsertBatch matches rows back by it. */
function rowId(ns: string, key: string): string {
  return ns + '\u0000' + key;
}
