import { newEtag } from './etag.js';
import type { CacheValue, SetOptions, WriteCondition } from './port.js';
import { toValueBytes, validateCondition, validateContentType, validateKey, validateTags, validateTtl } from './validation.js';

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** A write checked against every input rule, before any backend call. */
export interface ValidatedWrite {
  key: string;
  value: Buffer;
  contentType: string;
  /** Deduplicated. */
  tags: string[];
  /** ms, null (no expiry), or undefined: the namespace default, resolved by the adapter. */
  ttl: number | null | undefined;
  condition: WriteCondition;
  /** The ETag this write will store if it happens. */
  etag: string;
}

/** `field` prefixes error names in batches, e.g. `items[3].`. */
export function validateWrite(key: string, value: CacheValue, opts: SetOptions, maxValueBytes: number, field = ''): ValidatedWrite {
  validateKey(key, `${field}key`);
  const bytes = toValueBytes(value, maxValueBytes, `${field}value`);
  validateTtl(opts.ttl, `${field}ttl`);
  validateTags(opts.tags ?? [], `${field}tags`);
  validateContentType(opts.contentType, `${field}contentType`);
  validateCondition(opts.condition, `${field}condition`);
  return {
    key,
    value: bytes,
    contentType: opts.contentType ?? DEFAULT_CONTENT_TYPE,
    tags: [...new Set(opts.tags ?? [])],
    ttl: opts.ttl,
    condition: opts.condition ?? 'always',
    etag: newEtag(),
  };
}
