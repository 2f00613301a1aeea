/**
 * The change feed's payloads on Redis: JSON of the port's Change
 * (`{"ns", "op", "keys"?, "prefix"?, "tags"?}`), built here and published by
 * the Lua script that makes the change (see entry-scripts.ts). Scripts that
 * only learn the keys while running (delete, evict) get a head that they
 * close with the JSON array of those keys and `}`.
 */
import type { Change, ChangeOp } from '../../core/port.js';

type ChangeDetail = Pick<Change, 'keys' | 'prefix' | 'tags'>;

/** The whole payload of one change. */
export function announcement(ns: string, op: ChangeOp, detail: ChangeDetail = {}): string {
  return JSON.stringify({ ns, op, ...detail });
}

/** `{"ns":…,"op":…,"keys":` — the script appends the key array and `}`. */
export function announceHead(ns: string, op: ChangeOp): string {
  return `${JSON.stringify({ ns, op }).slice(0, -1)},"keys":`;
}

const OPS = new Set<ChangeOp>(['set', 'delete', 'expire', 'prefix', 'tags', 'clear', 'evict']);

const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * Parses one message of namespace `ns`'s channel; undefined for a payload this
 * version does not know. cjson encodes an empty Lua table as `{}`: scripts
 * never publish an empty key list, and a non-array `keys` is dropped here
 * (the change then concerns the whole namespace, which is always safe).
 */
export function parseRedisChange(payload: string, ns: string): Change | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { ns: from, op, keys, prefix, tags } = parsed as Record<string, unknown>;
  if (from !== ns || !OPS.has(op as ChangeOp)) return undefined;
  const change: Change = { ns, op: op as ChangeOp };
  if (isStrings(keys)) change.keys = keys;
  if (typeof prefix === 'string') change.prefix = prefix;
  if (isStrings(tags)) change.tags = tags;
  return change;
}
