/**
 * Request body bytes with a streamed size limit: a declared Content-Length
 * over the limit is refused before reading; otherwise reading stops at the
 * first chunk past the limit, so an oversized body is never buffered whole.
 */
import { LimitExceededError } from '../core/errors.js';
import type { AppContext } from './env.js';

/** Reads at most `maxBytes` (inclusive); past it throws `tooLarge(size)`. */
export async function readBoundedBytes(c: AppContext, maxBytes: number, tooLarge: (size: number) => Error): Promise<Buffer> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > maxBytes) throw tooLarge(Number(declared));
  const body = c.req.raw.body;
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(size);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/** A cache value: at most `maxBytes` (CACHE_MAX_VALUE_BYTES), else 413. */
export function readValueBytes(c: AppContext, maxBytes: number): Promise<Buffer> {
  return readBoundedBytes(c, maxBytes, (size) => new LimitExceededError('value', maxBytes, size));
}
