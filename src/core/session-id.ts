/**
 * Session ids: 256 random bits as unpadded base64url (43 characters). A
 * backend stores only the SHA-256 of the id's text, so a leaked table or
 * keyspace holds no usable id. Hashing the text rather than the decoded bytes
 * means a non-canonical spelling of the same bytes is a different (unknown) id.
 */
import { createHash, randomBytes } from 'node:crypto';

const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/** Anything else is unknown without asking the backend. */
export function isSessionIdFormat(id: unknown): id is string {
  return typeof id === 'string' && SESSION_ID_PATTERN.test(id);
}

export function hashSessionId(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}
