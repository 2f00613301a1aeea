/**
 * The change feed's payloads on Redis: JSON of the port's Change
 * (`{"ns", "op", "keys"?, "prefix"?, "tags"?}`), built here and published by
 * the Lua script that makes the change (see entry-scripts.ts). Scripts that
 * only learn the keys while running (delete, evict) get a head that they
 * close with the JSON array of those keys and `}`.
 */
import { isChangeOp, isStringArray, readChangeFields } from '../../core/change-payload.js';
import type { Change, ChangeOp } from '../../core/port.js';

type ChangeDetail = Pick<Change, 'keys' | 'prefix' | 'tags'>;

/** The whole payload of one change. */
export function announcement(ns: string, op: ChangeOp, detail: ChangeDetail = {}): string {
  return JSON.stringify({ ns, op, ...detail });
}

/**
 * announcement(ns, op, { keys: [key] }), the same bytes, built without an
 * object and its spread: every set and increment sends one.
 */
export function keyAnnouncement(ns: string, op: ChangeOp, key: string): string {
  return `${announceHead(ns, op)}[${JSON.stringify(key)}]}`;
}

/** `{"ns":…,"op":…,"keys":` — the script appends the key array and `}`. `op` is a plain identifier (ChangeOp). */
export function announceHead(ns: string, op: ChangeOp): string {
  return `{"ns":${JSON.stringify(ns)},"op":"${op}","keys":`;
}

/**
 * Parses one message of namespace `ns`'s channel; undefined for a payload this
 * version does not know. cjson encodes an empty Lua table as `{}`: scripts
 * never publish an empty key list, and a non-array `keys` is dropped here
 * (the change then concerns the whole namespace, which is always safe).
 */
export function parseRedisChange(payload: string, ns: string): Change | undefined {
  const fields = readChangeFields(payload);
  if (fields === undefined) return undefined;
  const { ns: from, op, keys, prefix, tags } = fields;
  if (from !== ns || !isChangeOp(op)) return undefined;
  const change: Change = { ns, op };
  if (isStringArray(keys)) change.keys = keys;
  if (typeof prefix === 'string') change.prefix = prefix;
  if (isStringArray(tags)) change.tags = tags;
  return change;
}
