/**
 * The adapter's concurrency primitives without a database: Coalescer (fake
 * sender), PoolGate, and ReadTracker (fake sink, fake clock).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Coalescer, type CoalescerOptions } from '../../src/adapters/postgres/coalescer.js';
import { PoolGate, type Ticket } from '../../src/adapters/postgres/pool-gate.js';
import { ReadTracker, type ReadStatsSink } from '../../src/adapters/postgres/read-tracker.js';
import type { EntryTable } from '../../src/adapters/postgres/tables.js';

interface Item {
  key: string;
  n: number;
}

/** A sender whose batches stay pending until the test settles them. */
function fakeSender() {
  const batches: { items: Item[]; resolve: (out: string[]) => void; reject: (e: unknown) => void }[] = [];
  const send = (items: Item[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ items, resolve, reject });
    });
  /** Answers batch i with `key:n` per item. */
  const answer = async (i: number) => {
    const batch = batches[i];
    if (!batch) throw new Error(`no batch ${i}`);
    batch.resolve(batch.items.map((it) => `${it.key}:${it.n}`));
    await flush();
  };
  return { batches, send, answer };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const options = (o: Partial<CoalescerOptions> = {}): CoalescerOptions => ({ maxInFlight: 1, maxBatch: 100, windowMs: 0, ...o });

describe('Coalescer', () => {
  it('sends a lone call at once, then merges the calls that queued behind it into one batch', async () => {
    const { batches, send, answer } = fakeSender();
    const c = new Coalescer<Item, string>(send, options());
    const first = c.submit({ key: 'a', n: 1 });
    const rest = ['b', 'c', 'd'].map((key, n) => c.submit({ key, n }));
    expect(batches.map((b) => b.items.length)).toEqual([1]);
    await answer(0);
    expect(await first).toBe('a:1');
    expect(batches[1]?.items.map((i) => i.key)).toEqual(['b', 'c', 'd']);
    await answer(1);
    expect(await Promise.all(rest)).toEqual(['b:0', 'c:1', 'd:2']);
    expect(c.stats()).toEqual({ calls: 4, batches: 2 });
  });

  it('keeps same-key items in submission order: never in one batch, never overtaking', async () => {
    const { batches, send, answer } = fakeSender();
    const c = new Coalescer<Item, string>(send, options({ maxInFlight: 4 }), (i) => i.key);
    const results = [
      c.submit({ key: 'k', n: 1 }),
      c.submit({ key: 'k', n: 2 }),
      c.submit({ key: 'x', n: 1 }),
      c.submit({ key: 'k', n: 3 }),
      c.submit({ key: 'y', n: 1 }),
    ];
    // k1 goes alone; k2 waits for it, and k3 behind k2. x and y are free to go.
    const sent = () => batches.map((b) => b.items.map((i) => `${i.key}${i.n}`));
    expect(sent()).toEqual([['k1'], ['x1'], ['y1']]);
    await answer(0);
    expect(sent()[3]).toEqual(['k2']);
    await answer(3);
    expect(sent()[4]).toEqual(['k3']);
    await answer(1);
    await answer(2);
    await answer(4);
    expect(await Promise.all(results)).toEqual(['k:1', 'k:2', 'x:1', 'k:3', 'y:1']);
  });

  it('rejects every caller of a failed batch with its error and goes on', async () => {
    const { batches, send, answer } = fakeSender();
    const c = new Coalescer<Item, string>(send, options());
    const first = c.submit({ key: 'a', n: 1 });
    const second = [c.submit({ key: 'b', n: 1 }), c.submit({ key: 'c', n: 1 })];
    await answer(0);
    await first;
    batches[1]?.reject(new Error('boom'));
    for (const p of second) await expect(p).rejects.toThrow('boom');
    const third = c.submit({ key: 'd', n: 1 });
    await flush();
    await answer(2);
    expect(await third).toBe('d:1');
  });

  it('never sends an item whose ticket was dropped while it queued', async () => {
    const { batches, send, answer } = fakeSender();
    const c = new Coalescer<Item, string>(send, options(), (i) => i.key);
    void c.submit({ key: 'a', n: 1 });
    const dropped: Ticket = { dropped: false };
    const late = c.submit({ key: 'b', n: 1 }, dropped);
    const kept = c.submit({ key: 'c', n: 1 }, { dropped: false });
    dropped.dropped = true;
    await answer(0);
    expect(batches[1]?.items.map((i) => i.key)).toEqual(['c']);
    await answer(1);
    expect(await kept).toBe('c:1');
    let settled = false;
    void late.finally(() => {
      settled = true;
    });
    await flush();
    expect(settled).toBe(false); // its caller already got the timeout
  });

  it('with an admission, a batch is formed only once it has a pool slot, leaving out items dropped meanwhile', async () => {
    const { batches, send, answer } = fakeSender();
    const gate = new PoolGate(1);
    expect(gate.tryAcquire()).toBe(true); // the pool is busy with something else
    const c = new Coalescer<Item, string>(send, options({ maxInFlight: 2 }), (i) => i.key, gate);
    const tickets = [{ dropped: false }, { dropped: false }];
    const calls = tickets.map((t, n) => c.submit({ key: `k${n}`, n }, t));
    expect(batches).toHaveLength(0);
    (tickets[0] as Ticket).dropped = true;
    gate.release();
    await flush();
    expect(batches.map((b) => b.items.map((i) => i.key))).toEqual([['k1']]);
    await answer(0);
    expect(await calls[1]).toBe('k1:1');
    // The batch gave its slot back.
    expect(gate.tryAcquire()).toBe(true);
  });

  it('with a window, waits for company only while a batch is in flight', async () => {
    vi.useFakeTimers();
    try {
      const { batches, send } = fakeSender();
      const c = new Coalescer<Item, string>(send, options({ maxInFlight: 2, windowMs: 1 }));
      void c.submit({ key: 'a', n: 1 });
      expect(batches).toHaveLength(1);
      void c.submit({ key: 'b', n: 1 });
      void c.submit({ key: 'c', n: 1 });
      expect(batches).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(batches.map((b) => b.items.length)).toEqual([1, 2]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('PoolGate', () => {
  it('admits up to capacity, then in FIFO order, skipping dropped tickets', async () => {
    const gate = new PoolGate(2);
    expect(gate.tryAcquire()).toBe(true);
    expect(gate.tryAcquire()).toBe(true);
    expect(gate.tryAcquire()).toBe(false);
    const order: string[] = [];
    const a: Ticket = { dropped: false };
    const b: Ticket = { dropped: false };
    const c: Ticket = { dropped: false };
    void gate.wait(a).then(() => order.push('a'));
    void gate.wait(b).then(() => order.push('b'));
    void gate.wait(c).then(() => order.push('c'));
    b.dropped = true;
    gate.release();
    gate.release();
    await flush();
    expect(order).toEqual(['a', 'c']);
    expect(gate.queued()).toBe(0);
    gate.release();
    gate.release();
    expect(gate.tryAcquire()).toBe(true);
  });
});

describe('ReadTracker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function fakeSink() {
    const counts: { names: string[]; hits: number[]; misses: number[]; localHits: number[] }[] = [];
    const touches: { table: EntryTable; nss: string[]; keys: string[]; counts: number[] }[] = [];
    let fail = false;
    const sink: ReadStatsSink = {
      async addCounts(names, hits, misses, localHits) {
        if (fail) throw new Error('down');
        counts.push({ names, hits, misses, localHits });
      },
      async touch(table, nss, keys, n) {
        touches.push({ table, nss, keys, counts: n });
      },
    };
    return {
      sink,
      counts,
      touches,
      setFail: (f: boolean) => {
        fail = f;
      },
    };
  }

  it('sums hits, misses and local hits per namespace and flushes them once per interval, in name order', async () => {
    const { sink, counts } = fakeSink();
    const tracker = new ReadTracker(sink, { counterFlushMs: 1000, recencyIntervalMs: 60_000, maxRecencyKeys: 10 });
    tracker.hit('entries', 'b', 'k');
    tracker.hit('entries', 'b', 'k');
    tracker.miss('a');
    tracker.localHits('b', 3);
    tracker.localHits('c', 0);
    expect(tracker.unflushed('b')).toEqual({ hits: 2, misses: 0, localHits: 3 });
    await vi.advanceTimersByTimeAsync(999);
    expect(counts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(counts).toEqual([{ names: ['a', 'b'], hits: [0, 2], misses: [1, 0], localHits: [0, 3] }]);
    expect(tracker.unflushed('b')).toEqual({ hits: 0, misses: 0, localHits: 0 });
    await tracker.close();
  });

  it('keeps the counts of a failed flush for the next one (no loss, no double count)', async () => {
    const { sink, counts, setFail } = fakeSink();
    const errors: unknown[] = [];
    const tracker = new ReadTracker(sink, {
      counterFlushMs: 1000,
      recencyIntervalMs: 60_000,
      maxRecencyKeys: 10,
      onError: (e) => errors.push(e),
    });
    tracker.miss('a');
    tracker.localHits('a', 4);
    setFail(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(errors).toHaveLength(1);
    expect(tracker.unflushed('a')).toEqual({ hits: 0, misses: 1, localHits: 4 });
    tracker.miss('a');
    tracker.localHits('a', 1);
    setFail(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(counts).toEqual([{ names: ['a'], hits: [0], misses: [2], localHits: [5] }]);
    await tracker.close();
  });

  it('touches each key read in an interval once, with its summed hits, per table, in key order', async () => {
    const { sink, touches } = fakeSink();
    const tracker = new ReadTracker(sink, { counterFlushMs: 60_000, recencyIntervalMs: 5000, maxRecencyKeys: 10 });
    tracker.hit('entries', 'ns', 'b');
    tracker.hit('entries', 'ns', 'a');
    tracker.hit('entries', 'ns', 'b');
    tracker.hit('durable_entries', 'd', 'x');
    await vi.advanceTimersByTimeAsync(5000);
    expect(touches).toEqual([
      { table: 'entries', nss: ['ns', 'ns'], keys: ['a', 'b'], counts: [1, 2] },
      { table: 'durable_entries', nss: ['d'], keys: ['x'], counts: [1] },
    ]);
    await tracker.close();
  });

  it('forgets what a dropped namespace had buffered', async () => {
    const { sink, counts, touches } = fakeSink();
    const tracker = new ReadTracker(sink, { counterFlushMs: 60_000, recencyIntervalMs: 60_000, maxRecencyKeys: 10 });
    tracker.hit('entries', 'gone', 'k');
    tracker.hit('entries', 'kept', 'k');
    tracker.forget('gone');
    await tracker.close();
    expect(counts).toEqual([{ names: ['kept'], hits: [1], misses: [0], localHits: [0] }]);
    expect(touches.map((t) => t.nss)).toEqual([['kept']]);
  });
});
