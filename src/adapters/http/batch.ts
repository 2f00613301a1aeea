/**
 * POST /v1/batch for the entry store: ops in chunks of at most maxBatch and
 * BATCH_BODY_BUDGET bytes of JSON, results in order, and the conversions
 * between port values and batch ops / results.
 */
import { isUtf8 } from 'node:buffer';
import type { CacheEntry } from '../../core/port.js';
import type { ValidatedWrite } from '../../core/write.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { HttpClient } from './client.js';
import { problemError } from './problems.js';
import { conditionHeaders, duration, epochMs, unquoteEtag } from './wire.js';

/** JSON bytes one batch request may carry; below the server's default 2 MiB body limit with room for the envelope. */
export const BATCH_BODY_BUDGET = 1_500_000;

export interface BatchResult {
  status: number;
  value?: string | number;
  encoding?: 'base64';
  etag?: string;
  contentType?: string;
  tags?: string[];
  expiresAt?: string | null;
  detail?: string;
  'invalid-params'?: { name: string; reason: string }[];
}

export type BatchOp = Record<string, unknown> & { op: 'get' | 'set' | 'delete' | 'incr'; ns: string; key: string };

export function entryFromResult(result: BatchResult): CacheEntry {
  const text = typeof result.value === 'string' ? result.value : String(result.value ?? '');
  return {
    value: Buffer.from(text, result.encoding === 'base64' ? 'base64' : 'utf8'),
    contentType: result.contentType ?? 'application/octet-stream',
    etag: unquoteEtag(result.etag) ?? '',
    expiresAt: epochMs(result.expiresAt),
    tags: result.tags ?? [],
  };
}

/** A batch set op; the value as UTF-8 text when it is valid UTF-8, else base64. */
export function setOp(ns: string, write: ValidatedWrite): BatchOp {
  const op: BatchOp = { op: 'set', ns, key: write.key, contentType: write.contentType, tags: write.tags };
  if (isUtf8(write.value)) op.value = write.value.toString('utf8');
  else {
    op.value = write.value.toString('base64');
    op.encoding = 'base64';
  }
  if (write.ttl !== undefined) op.ttl = write.ttl === null ? null : duration(write.ttl);
  const condition = conditionHeaders(write.condition);
  if (condition['if-match'] !== undefined) op.ifMatch = condition['if-match'];
  if (condition['if-none-match'] !== undefined) op.ifNoneMatch = condition['if-none-match'];
  return op;
}

export function opBytes(op: BatchOp): number {
  return Buffer.byteLength(JSON.stringify(op)) + 1;
}

function isResult(value: unknown): value is BatchResult {
  return typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'number';
}

export function createBatchRunner(client: HttpClient, maxBatch: number) {
  /** Runs ops as batches (chunked by count and body size) and returns their results in order. */
  async function batch(ops: BatchOp[], operation: string): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    let start = 0;
    while (start < ops.length) {
      let end = start;
      let bytes = 16;
      while (end < ops.length && end - start < maxBatch) {
        const size = opBytes(ops[end] as BatchOp);
        if (end > start && bytes + size > BATCH_BODY_BUDGET) break;
        bytes += size;
        end++;
      }
      const { body } = await client.json<{ results?: unknown }>({
        method: 'POST',
        path: '/v1/batch',
        body: { ops: ops.slice(start, end) },
        operation,
      });
      // One result per op, in order: anything else would hand a key another key's result.
      const chunk = body.results;
      if (!Array.isArray(chunk) || chunk.length !== end - start || !chunk.every(isResult))
        throw new BackendUnavailableError(`the server's answer to ${operation} is not one batch result per operation`);
      results.push(...chunk);
      start = end;
    }
    return results;
  }

  /** A per-op failure that the single-key route would have thrown. */
  function opError(result: BatchResult, operation: string, key = ''): Error {
    // A batch result carries no problem type: a 409 of incr says which in its detail (the typed error's message).
    const slug = result.status === 409 ? (/overflow/.test(result.detail ?? '') ? 'integer-overflow' : 'not-an-integer') : '';
    const type = slug === '' ? '' : `urn:cacheport:problem:${slug}`;
    const body = Buffer.from(JSON.stringify({ type, detail: result.detail ?? '', 'invalid-params': result['invalid-params'] }));
    return problemError({ status: result.status, headers: { 'content-type': 'application/problem+json' }, body }, operation, key);
  }

  return { run: batch, opError };
}
