/**
 * The channel-retention job (Postgres): messages past retention or beyond the
 * per-channel bound are deleted oldest first, the channel remembers the
 * newest id deleted (so a resuming subscriber is told `gap`), idle channels
 * are forgotten, and pg-boss runs it on the cleanup interval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChannelRetention } from '../../jobs/channel-retention.js';
import { startWorker } from '../../jobs/worker.js';
import { createPostgresPort, type PostgresPort } from '../../src/adapters/postgres/index.js';
import { DEFAULT_ADAPTER_OPTIONS } from '../../src/core/defaults.js';
import type { ChannelEvent } from '../../src/core/port.js';
import { PG_URL } from '../support/services.js';
import { createWorkerTestDb, waitFor, workerConfig, type WorkerTestDb } from './support.js';

let db: WorkerTestDb;
let port: PostgresPort;

beforeAll(async () => {
  db = await createWorkerTestDb('wchan');
  port = createPostgresPort({ ...DEFAULT_ADAPTER_OPTIONS, url: PG_URL, schema: db.schema, poolMax: 2 });
});

afterAll(async () => {
  await port?.close();
  await db?.drop();
});

async function heldIds(channel: string): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`SELECT id::text AS id FROM channel_messages WHERE channel = ${channel} ORDER BY id`;
  return rows.map((r) => r.id);
}

async function trimmedThrough(channel: string): Promise<string | undefined> {
  const [row] = await db.sql<{ t: string }[]>`SELECT trimmed_through::text AS t FROM channels WHERE channel = ${channel}`;
  return row?.t;
}

async function replayFrom(channel: string, fromId: string, count: number): Promise<ChannelEvent[]> {
  const events: ChannelEvent[] = [];
  const sub = await port.subscribe(channel, (e) => events.push(e), { fromId });
  expect(await waitFor(async () => events.length >= count)).toBe(true);
  sub.unsubscribe();
  return events;
}

describe('channel-retention', () => {
  it('keeps the newest maxMessages of a channel; a subscriber from before them gets gap, then the rest', async () => {
    const channel = 'bounded';
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await port.publish(channel, i));
    const result = await runChannelRetention(db.sql, { retentionMs: 60_000, maxMessages: 5, batchSize: 3 });
    expect(result).toMatchObject({ deleted: 7, complete: true });
    expect(await heldIds(channel)).toEqual(ids.slice(7));
    expect(await trimmedThrough(channel)).toBe(ids[6]);
    const events = await replayFrom(channel, ids[0] as string, 6);
    expect(events[0]).toEqual({ type: 'gap', oldestId: ids[7] });
    expect(events.slice(1).map((e) => (e.type === 'message' ? e.data : e))).toEqual([7, 8, 9, 10, 11]);
  });

  it('deletes messages past retention of a channel nobody publishes to any more, and forgets idle channels', async () => {
    const channel = 'idle';
    const ids = [await port.publish(channel, 'a'), await port.publish(channel, 'b')];
    await port.publish('other', 'expires too');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const result = await runChannelRetention(db.sql, { retentionMs: 200 });
    expect(result.deleted).toBeGreaterThanOrEqual(2);
    expect(await heldIds(channel)).toEqual([]);
    expect(await trimmedThrough(channel)).toBe(ids[1]);
    // Resuming from the first: b was lost. From the last: nothing was, so the next message comes without a gap.
    expect(await replayFrom(channel, ids[0] as string, 1)).toEqual([{ type: 'gap', oldestId: null }]);
    const fromLast: ChannelEvent[] = [];
    const sub = await port.subscribe(channel, (e) => fromLast.push(e), { fromId: ids[1] as string });
    const next = await port.publish(channel, 'c');
    expect(await waitFor(async () => fromLast.length >= 1)).toBe(true);
    expect(fromLast[0]).toEqual({ type: 'message', id: next, data: 'c' });
    sub.unsubscribe();
    // Not forgotten yet: it published within the last day.
    expect(result.forgotten).toBe(0);
    await db.sql`UPDATE channels SET last_published_at = now() - interval '2 days' WHERE channel IN (${channel}, 'other')`;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const later = await runChannelRetention(db.sql, { retentionMs: 200 });
    expect(later.forgotten).toBe(2);
    expect(await trimmedThrough(channel)).toBeUndefined();
  });

  it('runs through pg-boss on the cleanup interval with CHANNEL_RETENTION', async () => {
    const channel = 'through-boss';
    for (let i = 0; i < 3; i++) await port.publish(channel, i);
    const worker = await startWorker({
      config: workerConfig(db.schema, { CHANNEL_RETENTION: '300ms' }),
      pollingIntervalSeconds: 0.5,
    });
    try {
      expect(await waitFor(async () => (await heldIds(channel)).length === 0)).toBe(true);
    } finally {
      await worker.stop();
    }
  }, 60_000);
});
