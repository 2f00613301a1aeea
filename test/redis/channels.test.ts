/**
 * Redis channel specifics: every publish trims the stream to the count
 * bound (exactly), and a subscriber resuming from before the trimmed
 * messages is told `gap` with the oldest id held. (On Postgres the bound is
 * the worker's job: test/worker/channel-retention.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { recorder, uniqueChannel, untilCount } from '../contract/pubsub.js';
import { redisFactory, type TestBackend } from '../support/backends.js';
import { REDIS_URL } from '../support/services.js';
import { sleep } from '../contract/context.js';

describe('redis channels', () => {
  let backend: TestBackend;
  beforeAll(async () => {
    backend = await redisFactory.create({ channelMaxMessages: 5 });
  });
  afterAll(async () => {
    await backend?.cleanup();
  });

  it('keeps the newest channelMaxMessages; a subscriber from before them gets gap, then the rest', async () => {
    const port = backend.port;
    const channel = uniqueChannel();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await port.publish(channel, i));
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.xlen(`${backend.scope}:chan:{${channel}}`)).toBe(5);
    } finally {
      redis.disconnect();
    }
    const rec = recorder();
    const sub = await port.subscribe(channel, rec.onEvent, { fromId: ids[0] as string });
    await untilCount(rec.events, 6);
    expect(rec.events[0]).toEqual({ type: 'gap', oldestId: ids[7] });
    expect(rec.data()).toEqual([7, 8, 9, 10, 11]);
    // From the newest trimmed id nothing is missing: no gap.
    const exact = recorder();
    const sub2 = await port.subscribe(channel, exact.onEvent, { fromId: ids[6] as string });
    await untilCount(exact.events, 5);
    expect(exact.events.every((e) => e.type === 'message')).toBe(true);
    sub.unsubscribe();
    sub2.unsubscribe();
  });

  it('a read that trims expired messages leaves the gap watermark expiring with its stream, not forever', async () => {
    const short = await redisFactory.create({ channelRetentionMs: 200 });
    const redis = new Redis(REDIS_URL);
    try {
      const channel = uniqueChannel();
      await short.port.publish(channel, 'old');
      await sleep(500);
      // No publish after the message expired: the subscribe's read is what trims it.
      const rec = recorder();
      const sub = await short.port.subscribe(channel, rec.onEvent, { fromId: '0-0' });
      await untilCount(rec.events, 1);
      sub.unsubscribe();
      expect(rec.events[0]).toEqual({ type: 'gap', oldestId: null });
      const streamTtl = await redis.pttl(`${short.scope}:chan:{${channel}}`);
      const goneTtl = await redis.pttl(`${short.scope}:chan:{${channel}}:gone`);
      expect(streamTtl).toBeGreaterThan(0);
      expect(goneTtl).toBeGreaterThan(0);
      expect(goneTtl).toBeLessThanOrEqual(streamTtl);
    } finally {
      redis.disconnect();
      await short.cleanup();
    }
  });
});
