import { randomBytes } from 'node:crypto';

/**
 * ETags change on every write, even of identical bytes, so they are random
 * rather than content hashes. Drawn from a pooled buffer to keep the hot path
 * free of a syscall per write.
 */
const POOL_SIZE = 12 * 512;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

export function newEtag(): string {
  if (offset + 12 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const etag = pool.toString('base64url', offset, offset + 12);
  offset += 12;
  return etag;
}
