/**
 * Channel message ids per backend: how they are spelled (validated as
 * `fromId` before any backend call) and ordered within a channel.
 */
import { ValidationError } from './errors.js';

/** How one backend spells and orders its message ids. */
export interface ChannelIds {
  /** Before every id. */
  zero: string;
  /** Throws ValidationError for a malformed `fromId`. */
  validate(id: unknown, field: string): asserts id is string;
  compare(a: string, b: string): number;
}

/** Postgres ids: decimal bigint strings. */
export const DECIMAL_IDS: ChannelIds = {
  zero: '0',
  validate(id, field): asserts id is string {
    if (typeof id !== 'string' || !/^(0|[1-9][0-9]{0,18})$/.test(id) || BigInt(id) > 2n ** 63n - 1n) {
      throw new ValidationError({ name: field, reason: 'must be a message id of this channel (a decimal integer)' });
    }
  },
  compare(a, b) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
};

/** Redis stream ids: `<ms>-<seq>`. */
export const STREAM_IDS: ChannelIds = {
  zero: '0-0',
  validate(id, field): asserts id is string {
    if (typeof id !== 'string' || !/^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/.test(id)) {
      throw new ValidationError({ name: field, reason: 'must be a message id of this channel (<ms>-<seq>)' });
    }
    const [ms, seq] = splitStreamId(id);
    if (ms > 2n ** 64n - 1n || seq > 2n ** 64n - 1n) throw new ValidationError({ name: field, reason: 'is out of range' });
  },
  compare(a, b) {
    const [am, as] = splitStreamId(a);
    const [bm, bs] = splitStreamId(b);
    if (am !== bm) return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs ? 1 : 0;
  },
};

function splitStreamId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}
