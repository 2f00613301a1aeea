import { ValidationError } from './errors.js';
import { newEtag } from './etag.js';
import type { CacheValue, NamespaceConfig, SetOptions, WriteCondition } from './port.js';
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

/** A write with its ttl resolved: ms, or null for no expiry. */
export type ResolvedWrite = Omit<ValidatedWrite, 'ttl'> & { ttl: number | null };

/** The ttl a write stores: the one given, or the namespace default when none was given (undefined). */
export function resolveTtl(given: number | null | undefined, config: Pick<NamespaceConfig, 'defaultTtl'>): number | null {
  return given === undefined ? config.defaultTtl : given;
}

/** Fills in the namespace default ttl; call only after every input is validated. Returns a new write. */
export function resolveWrite(write: ValidatedWrite, config: Pick<NamespaceConfig, 'defaultTtl'>): ResolvedWrite {
  return { ...write, ttl: resolveTtl(write.ttl, config) };
}

/** As resolveTtl, loading the namespace config only when the default is needed. */
export async function resolveTtlLazily(given: number | null | undefined, load: () => Promise<NamespaceConfig>): Promise<number | null> {
  return given === undefined ? (await load()).defaultTtl : given;
}

/** resolveWrite for many writes, loading the namespace config (once) only when one takes the default. */
export async function resolveWrites(writes: ValidatedWrite[], load: () => Promise<NamespaceConfig>): Promise<ResolvedWrite[]> {
  const config = writes.some((w) => w.ttl === undefined) ? await load() : undefined;
  return writes.map((w) => ({ ...w, ttl: w.ttl === undefined ? (config as NamespaceConfig).defaultTtl : w.ttl }));
}

/**
 * A namespace is bounded when eviction keeps it within maxEntries / maxBytes:
 * LRU eviction and at least one limit. Only bounded namespaces need recency
 * tracking and eviction runs.
 */
export function isBounded(config: Pick<NamespaceConfig, 'eviction' | 'maxEntries' | 'maxBytes'>): boolean {
  return config.eviction === 'lru' && (config.maxEntries !== null || config.maxBytes !== null);
}

/** expire() takes no default: the new ttl must be given (ms, or null for no expiry). */
export function validateExpireTtl(ttl: unknown): asserts ttl is number | null {
  if (ttl === undefined) throw new ValidationError({ name: 'ttl', reason: 'is required (milliseconds, or null for no expiry)' });
  validateTtl(ttl);
}
