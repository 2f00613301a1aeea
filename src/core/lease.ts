/**
 * Lock leases, the backend-independent half: input validation, token
 * generation and the token hash the backends store (a reader of the database
 * or of Redis cannot take over a lease from what is stored).
 */
import { createHash, randomBytes } from 'node:crypto';
import { ValidationError } from './errors.js';
import { validateName, validateRequiredTtl } from './validation.js';

/** 144 random bits, base64url (24 characters). */
export function newLeaseToken(): string {
  return randomBytes(18).toString('base64url');
}

export function hashLeaseToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export const MAX_TOKEN_LENGTH = 256;

export function validateLockName(name: unknown): asserts name is string {
  validateName(name, 'name');
}

export function validateLeaseTtl(ttl: unknown): asserts ttl is number {
  validateRequiredTtl(ttl, 'ttl');
}

/** Any non-empty string is a possible token; a wrong one simply does not match. */
export function validateLeaseToken(token: unknown): asserts token is string {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new ValidationError({ name: 'token', reason: `must be a non-empty string of at most ${MAX_TOKEN_LENGTH} characters` });
  }
}
