/**
 * Request bodies for handlers that cannot use zod-openapi's validators
 * (wildcard key paths): raw value bytes with a streamed size limit, and JSON
 * with the same 415/400 rules as the validated routes.
 */
import { LimitExceededError } from '../core/errors.js';
import type { AppContext } from './context.js';
import { HttpProblem } from './problem.js';

/**
 * Reads at most `maxBytes` (inclusive). A declared Content-Length over the
 * limit is refused before reading; otherwise reading stops at the first chunk
 * past the limit, so an oversized body is never buffered whole.
 */
export async function readValueBytes(c: AppContext, maxBytes: number): Promise<Buffer> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && /^[0-9]+$/.test(declared) && Number(declared) > maxBytes) {
    throw new LimitExceededError('value', maxBytes, Number(declared));
  }
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
      throw new LimitExceededError('value', maxBytes, size);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = (value.split(';')[0] ?? '').trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * Parses a JSON body. Another Content-Type → 415; malformed → 400. An empty
 * body without Content-Type is `undefined` when `optional` (e.g. counters).
 */
export async function readJson(c: AppContext, options: { optional?: boolean } = {}): Promise<unknown> {
  const contentType = c.req.header('content-type');
  const text = await c.req.text();
  if (contentType === undefined && text.length === 0 && options.optional) return undefined;
  if (!isJsonContentType(contentType)) {
    throw new HttpProblem(415, 'unsupported-media-type', 'this route takes a JSON body: send Content-Type: application/json');
  }
  if (text.trim().length === 0 && options.optional) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpProblem(400, 'malformed-json', 'the request body is not valid JSON');
  }
}

/** A JSON object body (not an array or scalar), else 400. */
export function asObject(value: unknown, field = 'body'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpProblem(400, 'validation', `${field} must be a JSON object`, {}, [{ name: field, reason: 'must be a JSON object' }]);
  }
  return value as Record<string, unknown>;
}
