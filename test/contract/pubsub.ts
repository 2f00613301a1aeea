/**
 * Pub/sub channels (docs/spec/cache-port.md "Pub/sub channels"): publish
 * order, delivery across ports sharing the backend, replay from an id, gaps
 * past retention, limits and validation, unsubscribe and close.
 */
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, LimitExceededError } from '../../src/core/errors.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/core/channels.js';
import type { CachePort, ChannelEvent, JsonValue } from '../../src/core/port.js';
import { expectThrown, expectValidationError, sleep, type ContractContext } from './context.js';

let channelCounter = 0;

/** A channel no other test uses (the lock-name rule allows capitals and `:`). */
export function uniqueChannel(): string {
  channelCounter += 1;
  return `Chan:${channelCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Collects a subscription's events. */
export function recorder(): { events: ChannelEvent[]; onEvent: (event: ChannelEvent) => void; data(): JsonValue[] } {
  const events: ChannelEvent[] = [];
  return {
    events,
    onEvent: (event) => events.push(event),
    data: () => events.flatMap((e) => (e.type === 'message' ? [e.data] : [])),
  };
}

/** Waits (generously: the machine is shared) until `events` holds `count` events. */
export async function untilCount(events: ChannelEvent[], count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} events, got ${events.length}: ${JSON.stringify(events).slice(0, 500)}`);
    await sleep(10);
  }
}

function messageIds(events: ChannelEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'message' ? [e.id] : []));
}

/** Publishes `items` one after another; their ids. */
async function publishAll(port: CachePort, channel: string, items: JsonValue[]): Promise<string[]> {
  const ids: string[] = [];
  for (const item of items) ids.push(await port.publish(channel, item));
  return ids;
}

/** Short retention for the gap tests, and a wait that outlives it. */
const SHORT_RETENTION = 400;
const PAST_RETENTION = 1000;

export function definePubSubTests(ctx: ContractContext): void {
  describe('pub/sub channels', () => {
    it('delivers every JSON kind in publish order with the ids publish returned', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const rec = recorder();
      const sub = await port.subscribe(channel, rec.onEvent);
      const items: JsonValue[] = [{ a: 1, nested: { list: [1, 'two', null, true] } }, [1, 2, 3], 'text é ✓', 42.5, -7, null, false, {}];
      const ids = await publishAll(port, channel, items);
      await untilCount(rec.events, items.length);
      expect(rec.events.every((e) => e.type === 'message')).toBe(true);
      expect(messageIds(rec.events)).toEqual(ids);
      expect(rec.data()).toEqual(items);
      expect(new Set(ids).size).toBe(ids.length);
      sub.unsubscribe();
    });

    it('data comes back as published: object key order, NUL and lone surrogates in strings', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const rec = recorder();
      const sub = await port.subscribe(channel, rec.onEvent);
      const items: JsonValue[] = [{ zeta: 1, alpha: 2, mid: { b: 1, a: 2 } }, 'nul\u0000inside', 'lone \ud800 surrogate', 1e300, -0.5];
      await publishAll(port, channel, items);
      await untilCount(rec.events, items.length);
      expect(rec.data()).toEqual(items);
      const [first] = rec.data() as [{ mid: object }];
      expect(Object.keys(first)).toEqual(['zeta', 'alpha', 'mid']);
      expect(Object.keys(first.mid)).toEqual(['b', 'a']);
      sub.unsubscribe();
    });

    it('a subscription without fromId sees only messages published after subscribe resolved', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      await publishAll(port, channel, ['before-1', 'before-2']);
      const rec = recorder();
      const sub = await port.subscribe(channel, rec.onEvent);
      await port.publish(channel, 'after');
      await untilCount(rec.events, 1);
      await sleep(200);
      expect(rec.data()).toEqual(['after']);
      sub.unsubscribe();
    });

    it('concurrent publishers: every message once, in id order, each publisher in its own order', async () => {
      const backend = ctx.port();
      const channel = uniqueChannel();
      const rec = recorder();
      const sub = await backend.subscribe(channel, rec.onEvent);
      const PER = 30;
      // Three sequential publishers racing each other, plus one burst of parallel publishes.
      const sequential = ['a', 'b', 'c'].map((name) =>
        publishAll(
          backend,
          channel,
          Array.from({ length: PER }, (_, i) => ({ by: name, i })),
        ),
      );
      const burst = Promise.all(Array.from({ length: PER }, (_, i) => backend.publish(channel, { by: 'burst', i })));
      const published = [...(await Promise.all(sequential)).flat(), ...(await burst)];
      await untilCount(rec.events, published.length);
      const received = messageIds(rec.events);
      expect(new Set(received)).toEqual(new Set(published));
      expect(received).toHaveLength(published.length);
      const data = rec.data() as { by: string; i: number }[];
      for (const name of ['a', 'b', 'c']) {
        expect(data.filter((d) => d.by === name).map((d) => d.i)).toEqual(Array.from({ length: PER }, (_, i) => i));
      }
      // A replay from the start gives the same sequence: the order is the channel's, not the subscriber's.
      const replay = recorder();
      const first = received[0] as string;
      const again = await backend.subscribe(channel, replay.onEvent, { fromId: first });
      await untilCount(replay.events, published.length - 1);
      expect(messageIds(replay.events)).toEqual(received.slice(1));
      again.unsubscribe();
      sub.unsubscribe();
    });

    it('two ports on the same backend (two processes) see each other’s messages, in order', async () => {
      const backend = await ctx.factory.create();
      try {
        const a = backend.port;
        const b = backend.sibling();
        const channel = uniqueChannel();
        const atA = recorder();
        const atB = recorder();
        const subs = [await a.subscribe(channel, atA.onEvent), await b.subscribe(channel, atB.onEvent)];
        const ids = [await a.publish(channel, 'from-a'), await b.publish(channel, 'from-b'), await a.publish(channel, 'from-a-2')];
        await untilCount(atA.events, 3);
        await untilCount(atB.events, 3);
        for (const rec of [atA, atB]) {
          expect(messageIds(rec.events)).toEqual(ids);
          expect(rec.data()).toEqual(['from-a', 'from-b', 'from-a-2']);
        }
        for (const sub of subs) sub.unsubscribe();
      } finally {
        await backend.cleanup();
      }
    });

    it('fromId replays the retained messages after it, then live ones, without duplicates at the seam', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const ids = await publishAll(port, channel, [1, 2, 3, 4, 5]);
      const rec = recorder();
      let resolved = false;
      let beforeResolved = 0;
      const sub = await port.subscribe(
        channel,
        (event) => {
          if (!resolved) beforeResolved += 1;
          rec.onEvent(event);
        },
        { fromId: ids[1] as string },
      );
      resolved = true;
      // Published while the replay may still be delivering.
      const later = await publishAll(port, channel, [6, 7]);
      await untilCount(rec.events, 5);
      await sleep(200);
      expect(rec.events.map((e) => e.type)).toEqual(['message', 'message', 'message', 'message', 'message']);
      expect(rec.data()).toEqual([3, 4, 5, 6, 7]);
      expect(messageIds(rec.events)).toEqual([...ids.slice(2), ...later]);
      expect(beforeResolved, 'events delivered before subscribe resolved').toBe(0);
      sub.unsubscribe();
    });

    it('a subscriber with an old fromId joining while another subscriber’s read is under way misses nothing', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const ids = await publishAll(
        port,
        channel,
        Array.from({ length: 40 }, (_, i) => i),
      );
      // A live subscriber whose reads (one per publish) keep overlapping the late subscribers' replays.
      const live = await port.subscribe(channel, () => {});
      let publishing = true;
      const publisher = (async () => {
        while (publishing) ids.push(await port.publish(channel, ids.length));
      })();
      const rounds: { fromId: string; events: ChannelEvent[] }[] = [];
      for (let round = 0; round < 10; round++) {
        // Several at once, each resuming from a different old id.
        const batch = Array.from({ length: 4 }, (_, i) => ({ fromId: ids[round * 4 + i] as string, events: [] as ChannelEvent[] }));
        const subs = await Promise.all(batch.map((r) => port.subscribe(channel, (e) => r.events.push(e), { fromId: r.fromId })));
        await Promise.all(batch.map((r) => untilCount(r.events, 3)));
        for (const sub of subs) sub.unsubscribe();
        rounds.push(...batch);
      }
      publishing = false;
      await publisher;
      live.unsubscribe();
      for (const { fromId, events } of rounds) {
        const received = messageIds(events);
        const start = ids.indexOf(fromId) + 1;
        expect(events.every((e) => e.type === 'message')).toBe(true);
        expect(received, `resumed from ${fromId}`).toEqual(ids.slice(start, start + received.length));
      }
    });

    it('fromId equal to the last id replays nothing and delivers what follows', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const [last] = await publishAll(port, channel, ['only']);
      const rec = recorder();
      const sub = await port.subscribe(channel, rec.onEvent, { fromId: last as string });
      await port.publish(channel, 'next');
      await untilCount(rec.events, 1);
      await sleep(200);
      expect(rec.data()).toEqual(['next']);
      sub.unsubscribe();
    });

    it('a well-formed fromId the channel never issued is answered as past retention: gap, then what is held', async () => {
      const port = ctx.port();
      const other = uniqueChannel();
      const [foreign] = await publishAll(port, other, ['elsewhere']);
      // A channel that was never used: nothing held.
      const empty = uniqueChannel();
      const atEmpty = recorder();
      const sub1 = await port.subscribe(empty, atEmpty.onEvent, { fromId: foreign as string });
      await untilCount(atEmpty.events, 1);
      expect(atEmpty.events[0]).toEqual({ type: 'gap', oldestId: null });
      await port.publish(empty, 'first');
      await untilCount(atEmpty.events, 2);
      expect(atEmpty.data()).toEqual(['first']);
      // A used channel with an id from the future (issued later, by another channel): gap, then everything held.
      const used = uniqueChannel();
      const held = await publishAll(port, used, ['x', 'y']);
      // Redis ids are <ms>-<seq> per stream: a later millisecond makes the other channel's id larger.
      await sleep(5);
      const ahead = await port.publish(other, 'later');
      const atUsed = recorder();
      const sub2 = await port.subscribe(used, atUsed.onEvent, { fromId: ahead });
      await untilCount(atUsed.events, 3);
      expect(atUsed.events[0]).toEqual({ type: 'gap', oldestId: held[0] });
      expect(atUsed.data()).toEqual(['x', 'y']);
      sub1.unsubscribe();
      sub2.unsubscribe();
    });

    it('past retention: the first event is gap with the oldest id still held, then the held messages', async () => {
      const backend = await ctx.factory.create({ channelRetentionMs: SHORT_RETENTION });
      try {
        const port = backend.port;
        const channel = uniqueChannel();
        const [old1, old2] = await publishAll(port, channel, ['old-1', 'old-2']);
        await sleep(PAST_RETENTION);
        // Nothing newer held: gap with null.
        const none = recorder();
        const sub1 = await port.subscribe(channel, none.onEvent, { fromId: old1 as string });
        await untilCount(none.events, 1);
        expect(none.events[0]).toEqual({ type: 'gap', oldestId: null });
        // The last message before the pause was seen: nothing was lost, no gap.
        const upToDate = recorder();
        const sub2 = await port.subscribe(channel, upToDate.onEvent, { fromId: old2 as string });
        const [fresh] = await publishAll(port, channel, ['fresh']);
        await untilCount(none.events, 2);
        await untilCount(upToDate.events, 1);
        expect(none.data()).toEqual(['fresh']);
        expect(upToDate.events).toEqual([{ type: 'message', id: fresh, data: 'fresh' }]);
        // Resuming from before the expired ones: gap naming the oldest held message, then it.
        const behind = recorder();
        const sub3 = await port.subscribe(channel, behind.onEvent, { fromId: old1 as string });
        await untilCount(behind.events, 2);
        expect(behind.events).toEqual([
          { type: 'gap', oldestId: fresh },
          { type: 'message', id: fresh, data: 'fresh' },
        ]);
        for (const sub of [sub1, sub2, sub3]) sub.unsubscribe();
      } finally {
        await backend.cleanup();
      }
    });

    it('validates channel names, data and fromId before touching the backend; bad input publishes nothing', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const rec = recorder();
      const sub = await port.subscribe(channel, rec.onEvent);
      for (const bad of ['', 'has space', 'x'.repeat(201), 'brace{', 'ümlaut', 42]) {
        await expectValidationError(() => port.publish(bad as string, 'x'), /^channel$/);
        await expectValidationError(() => port.subscribe(bad as string, () => {}), /^channel$/);
      }
      const notJson: unknown[] = [
        undefined,
        () => 1,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        10n,
        Symbol('s'),
        new Date(0),
        { a: undefined },
        [1, undefined],
      ];
      for (const bad of notJson) await expectValidationError(() => port.publish(channel, bad as JsonValue), /^data/);
      for (const fromId of ['', 'abc', '-1', '1.5', 'x-y', ' 1']) {
        await expectValidationError(() => port.subscribe(channel, () => {}, { fromId }), /^fromId$/);
      }
      await expectValidationError(() => port.subscribe(channel, 'nope' as unknown as () => void), /^onEvent$/);
      // The limit is on the serialized JSON: a string of n characters is n + 2 bytes.
      const atLimit = 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES - 2);
      const overLimit = 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES - 1);
      const limit = await expectThrown(() => port.publish(channel, overLimit), LimitExceededError);
      expect(limit.limit).toBe(DEFAULT_MAX_MESSAGE_BYTES);
      const id = await port.publish(channel, atLimit);
      await untilCount(rec.events, 1);
      await sleep(200);
      expect(messageIds(rec.events)).toEqual([id]);
      sub.unsubscribe();
    });

    it('maxMessageBytes is an adapter option', async () => {
      const backend = await ctx.factory.create({ maxMessageBytes: 100 });
      try {
        const channel = uniqueChannel();
        await backend.port.publish(channel, 'y'.repeat(98));
        await expectThrown(() => backend.port.publish(channel, 'y'.repeat(99)), LimitExceededError);
      } finally {
        await backend.cleanup();
      }
    });

    it('unsubscribe stops delivery to that subscription only; the same callback twice is two subscriptions', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const stays = recorder();
      const leaves = recorder();
      const twice = recorder();
      const subs = [
        await port.subscribe(channel, stays.onEvent),
        await port.subscribe(channel, leaves.onEvent),
        await port.subscribe(channel, twice.onEvent),
        await port.subscribe(channel, twice.onEvent),
      ];
      await port.publish(channel, 'one');
      await untilCount(leaves.events, 1);
      subs[1]?.unsubscribe();
      subs[1]?.unsubscribe();
      await port.publish(channel, 'two');
      await untilCount(stays.events, 2);
      await untilCount(twice.events, 4);
      await sleep(200);
      expect(leaves.data()).toEqual(['one']);
      expect(stays.data()).toEqual(['one', 'two']);
      expect(twice.data()).toEqual(['one', 'one', 'two', 'two']);
      for (const sub of subs) sub.unsubscribe();
    });

    it('unsubscribing from inside a callback stops delivery at once, also within one batch', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const ids = await publishAll(port, channel, [1, 2, 3, 4, 5]);
      const seen: number[] = [];
      let sub: { unsubscribe(): void } | undefined;
      const watcher = recorder();
      const watch = await port.subscribe(channel, watcher.onEvent, { fromId: ids[0] as string });
      sub = await port.subscribe(
        channel,
        (event) => {
          if (event.type !== 'message') return;
          seen.push(event.data as number);
          if (event.data === 3) sub?.unsubscribe();
        },
        { fromId: ids[0] as string },
      );
      await untilCount(watcher.events, 4);
      await port.publish(channel, 6);
      await untilCount(watcher.events, 5);
      expect(seen).toEqual([2, 3]);
      watch.unsubscribe();
    });

    it('a subscriber whose callback throws does not stop delivery to the others', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const rec = recorder();
      const subs = [
        await port.subscribe(channel, () => {
          throw new Error('subscriber bug');
        }),
        await port.subscribe(channel, rec.onEvent),
      ];
      await publishAll(port, channel, ['a', 'b']);
      await untilCount(rec.events, 2);
      expect(rec.data()).toEqual(['a', 'b']);
      for (const sub of subs) sub.unsubscribe();
    });

    it('an async callback that rejects is no unhandled rejection (which would end the process) and stops nothing', async () => {
      const port = ctx.port();
      const channel = uniqueChannel();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const rec = recorder();
        const failing = await port.subscribe(channel, async () => {
          throw new Error('async subscriber bug');
        });
        const watching = await port.subscribe(channel, rec.onEvent);
        await publishAll(port, channel, ['a', 'b']);
        await untilCount(rec.events, 2);
        // Rejections are reported after a macrotask turn.
        await sleep(100);
        expect(unhandled).toEqual([]);
        expect(rec.data()).toEqual(['a', 'b']);
        failing.unsubscribe();
        watching.unsubscribe();
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    it('close() ends every subscription; publish and subscribe then fail as unavailable', async () => {
      const backend = await ctx.factory.create();
      try {
        const closing = backend.sibling();
        const channel = uniqueChannel();
        const rec = recorder();
        await closing.subscribe(channel, rec.onEvent);
        await closing.publish(channel, 'before');
        await untilCount(rec.events, 1);
        await closing.close();
        await backend.port.publish(channel, 'after close');
        await expectThrown(() => closing.publish(channel, 'x'), BackendUnavailableError);
        await expectThrown(() => closing.subscribe(channel, () => {}), BackendUnavailableError);
        await sleep(300);
        expect(rec.data()).toEqual(['before']);
      } finally {
        await backend.cleanup();
      }
    });

    it('a subscribe still under way when close() is called fails as unavailable (no subscription that never delivers)', async () => {
      const backend = await ctx.factory.create();
      try {
        const closing = backend.sibling();
        const channel = uniqueChannel();
        await closing.publish(channel, 'held');
        // The LISTEN connection / readers are already up, so the subscribe below is only its reads.
        await closing.subscribe(uniqueChannel(), () => {});
        const rec = recorder();
        const subscribing = closing.subscribe(channel, rec.onEvent, { fromId: backend.port.backend === 'redis' ? '0-0' : '0' });
        const closed = closing.close();
        await expectThrown(() => subscribing, BackendUnavailableError);
        await closed;
        await sleep(200);
        expect(rec.events).toEqual([]);
      } finally {
        await backend.cleanup();
      }
    });
  });
}
