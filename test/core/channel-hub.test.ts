/**
 * ChannelHub (the delivery logic both adapters share) over an in-memory
 * ChannelSource whose reads the test can hold, to place a subscription
 * exactly in the middle of another one's replay: the interleaving that real
 * backends produce only by chance. The adapters' end-to-end behaviour is in
 * the contract suite and test/http/channels.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ChannelHub, type ChannelRead, type ChannelSource } from '../../src/core/channel-hub.js';
import { DECIMAL_IDS } from '../../src/core/channel-ids.js';
import { CHANNEL_READ_BATCH } from '../../src/core/channels.js';
import type { ChannelEvent, ChannelMessage } from '../../src/core/port.js';

/** One channel holding messages 1..count; `beforeRead` may hold a read. */
class MemorySource implements ChannelSource {
  readonly ids = DECIMAL_IDS;
  readonly messages: ChannelMessage[];
  reads = 0;
  beforeRead: ((after: string) => Promise<void>) | undefined;

  constructor(count: number) {
    this.messages = Array.from({ length: count }, (_, i) => ({ id: String(i + 1), data: i + 1 }));
  }

  async head(): Promise<string | null> {
    return this.messages.at(-1)?.id ?? null;
  }

  append(): void {
    const id = this.messages.length + 1;
    this.messages.push({ id: String(id), data: id });
  }

  async read(_channel: string, after: string): Promise<ChannelRead> {
    this.reads++;
    await this.beforeRead?.(after);
    const messages = this.messages.filter((m) => BigInt(m.id) > BigInt(after)).slice(0, CHANNEL_READ_BATCH);
    const next = messages.length === CHANNEL_READ_BATCH ? (messages.at(-1)?.id ?? null) : null;
    return { last: this.messages.at(-1)?.id ?? null, gone: null, messages, next };
  }
}

/** Waits (bounded) until `events` holds `count` events. */
async function eventsReach(events: ChannelEvent[], count: number): Promise<void> {
  for (let i = 0; i < 500 && events.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

const ids = (events: ChannelEvent[]) => events.map((e) => (e.type === 'message' ? e.id : `gap:${e.oldestId}`));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

describe('ChannelHub', () => {
  it('a subscription that joins in the middle of another replay still gets every message after its own fromId, in order', async () => {
    const total = 3 * CHANNEL_READ_BATCH;
    const source = new MemorySource(total);
    const hub = new ChannelHub(source, { onReadError: () => {} });
    // Hold A's second read (after the first batch was delivered) until B has joined.
    let reached!: () => void;
    const atSecondBatch = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    source.beforeRead = async (after) => {
      if (after === String(CHANNEL_READ_BATCH)) {
        reached();
        await gate;
      }
    };

    const a: ChannelEvent[] = [];
    const b: ChannelEvent[] = [];
    const subA = hub.subscribe('c', (e) => a.push(e), '0');
    await atSecondBatch;
    const subB = hub.subscribe('c', (e) => b.push(e), '10');
    // B reads the head and joins the read in progress.
    await new Promise((resolve) => setImmediate(resolve));
    open();
    await Promise.all([subA, subB]);
    await eventsReach(a, total);
    await eventsReach(b, total - 10);

    expect(ids(a)).toEqual(range(1, total));
    expect(ids(b)).toEqual(range(11, total));
    hub.close();
  });

  it('a subscription resolves after the first batch of its replay (what it holds meanwhile is bounded); the rest follows in order', async () => {
    const total = 4 * CHANNEL_READ_BATCH;
    const source = new MemorySource(total);
    const hub = new ChannelHub(source, { onReadError: () => {} });
    const events: ChannelEvent[] = [];
    await hub.subscribe('c', (e) => events.push(e), '0');
    expect(source.reads).toBe(1);
    await eventsReach(events, total);
    expect(ids(events)).toEqual(range(1, total));
    hub.close();
  });

  it('subscribe resolves while publishes keep waking the channel faster than it is read', async () => {
    const source = new MemorySource(10);
    const hub = new ChannelHub(source, { onReadError: () => {} });
    let publishing = true;
    // Every read finds a new message published meanwhile, and its wake.
    source.beforeRead = async () => {
      if (!publishing) return;
      source.append();
      await new Promise((resolve) => setImmediate(resolve));
      hub.wake('c');
    };
    const events: ChannelEvent[] = [];
    const subscribed = hub.subscribe('c', (e) => events.push(e), '0');
    const first = await Promise.race([
      subscribed.then(() => 'subscribed'),
      new Promise((resolve) => setTimeout(resolve, 2000, 'still waiting')),
    ]);
    publishing = false;
    expect(first).toBe('subscribed');
    await subscribed;
    await eventsReach(events, source.messages.length);
    expect(ids(events)).toEqual(range(1, source.messages.length));
    hub.close();
  });
});
