/**
 * Reading a change feed's JSON payload, the part both adapters share: each
 * adapter then checks the fields that say the payload is its own.
 */
import type { ChangeOp } from './port.js';

const OPS = new Set<ChangeOp>(['set', 'delete', 'expire', 'prefix', 'tags', 'clear', 'evict']);

/** The payload's fields, or undefined for anything but a JSON object. */
export function readChangeFields(payload: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  return parsed as Record<string, unknown>;
}

/** An operation this version knows. */
export function isChangeOp(op: unknown): op is ChangeOp {
  return OPS.has(op as ChangeOp);
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
