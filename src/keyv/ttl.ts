/**
 * Keyv's ttl (ms) as the port's. Keyv means "no expiry" by an absent ttl and
 * by 0 (it turns 0 into undefined itself); the store follows it rather than
 * the cacheport namespace's default ttl, so an entry lives exactly as long as
 * the Keyv caller asked. A ttl at or below zero (Keyv passes a negative ttl
 * through) is an entry that is already expired: the store deletes the key.
 */
import { ValidationError } from '../core/errors.js';
import { validateTtl } from '../core/validation.js';

/** A port ttl (ms, or null for no expiry), or `expired`. */
export type StoreTtl = number | null | 'expired';

export function toStoreTtl(ttl: unknown): StoreTtl {
  if (ttl === undefined || ttl === null || ttl === 0 || ttl === Number.POSITIVE_INFINITY) return null;
  if (typeof ttl !== 'number' || Number.isNaN(ttl)) {
    throw new ValidationError({ name: 'ttl', reason: 'must be a number of milliseconds, or undefined for no expiry' });
  }
  if (ttl < 0) return 'expired';
  // The port counts whole ms; rounding up never ends an entry before Keyv's own `expires`.
  const ms = Math.ceil(ttl);
  validateTtl(ms);
  return ms;
}
