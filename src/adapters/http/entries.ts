/**
 * Entries over HTTP: single-key calls on /v1/cache and /v1/counters; getMany,
 * setMany and deleteMany as `POST /v1/batch` (batch.ts), as are single-key
 * calls on keys no path can address; bulk deletes on the namespace routes. Every input is validated here first, as the other
 * adapters do, so a bad call fails before any request and changes nothing.
 */
import type { CacheEntry, CacheValue, EntryStore, IncrementOptions, SetManyItem, SetOptions, SetResult } from '../../core/port.js';
import {
  toIncrementBy,
  validateBatchSize,
  validateKey,
  validateKeys,
  validateNamespace,
  validatePrefix,
  validateTags,
  validateTtl,
} from '../../core/validation.js';
import { BackendUnavailableError, ValidationError } from '../../core/errors.js';
import { validateExpireTtl, validateWrite, type ValidatedWrite } from '../../core/write.js';
import type { AdapterOptions } from '../../core/defaults.js';
import { jsonObject, type HttpAnswer, type HttpClient } from './client.js';
import { problemError } from './problems.js';
import { BATCH_BODY_BUDGET, createBatchRunner, entryFromResult, opBytes, setOp, type BatchOp, type BatchResult } from './batch.js';
import {
  conditionHeaders,
  duration,
  epochMs,
  header,
  keyPath,
  parseTagHeader,
  pathAddressable,
  segment,
  tagHeader,
  ttlQuery,
  unquoteEtag,
} from './wire.js';

/** Longest Cache-Tag request header sent; longer tag lists go in a batch body. */
const MAX_TAG_HEADER = 8 * 1024;

/**
 * A compare-and-set against an ETag no entry can have (entity-tag characters are printable ASCII without `"`):
 * a mismatch, as on the other adapters, decided here because no If-Match header can carry it.
 */
function unmatchable(write: ValidatedWrite): boolean {
  return typeof write.condition === 'object' && !/^[\x21\x23-\x7e]+$/.test(write.condition.etag);
}

/** A counter's value as the server sends it: a JSON integer, or its decimal text past 2^53. */
function counterValue(value: unknown): bigint {
  if ((typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^-?\d{1,19}$/.test(value)))
    return BigInt(value);
  throw new BackendUnavailableError(`the server's answer to increment is not a counter value: ${JSON.stringify(value)}`);
}

function entryFromAnswer(answer: HttpAnswer): CacheEntry {
  return {
    value: answer.body,
    contentType: header(answer.headers, 'content-type') ?? 'application/octet-stream',
    etag: unquoteEtag(answer.headers.etag) ?? '',
    expiresAt: epochMs(header(answer.headers, 'expires-at')),
    tags: parseTagHeader(answer.headers['cache-tag']),
  };
}

export function createHttpEntryStore(client: HttpClient, options: AdapterOptions): EntryStore {
  const { run: batch, opError } = createBatchRunner(client, options.maxBatch);
  function setResult(result: BatchResult, operation: string): SetResult {
    if (result.status === 201 || result.status === 204)
      return { written: true, etag: unquoteEtag(result.etag) ?? '', created: result.status === 201 };
    if (result.status === 412) return { written: false };
    throw opError(result, operation);
  }

  /** One get as a batch op (keys the path routes cannot address). */
  async function batchGet(ns: string, key: string, operation: string): Promise<CacheEntry | undefined> {
    const result = (await batch([{ op: 'get', ns, key, meta: true }], operation))[0] as BatchResult;
    if (result.status === 404) return undefined;
    if (result.status === 200) return entryFromResult(result);
    throw opError(result, operation);
  }

  async function get(ns: string, key: string): Promise<CacheEntry | undefined> {
    validateNamespace(ns);
    validateKey(key);
    if (!pathAddressable(key)) return batchGet(ns, key, 'get');
    const answer = await client.call({ method: 'GET', path: keyPath('cache', ns, key), expect: [404], operation: 'get' });
    return answer.status === 404 ? undefined : entryFromAnswer(answer);
  }

  async function getMany(ns: string, keys: string[]): Promise<(CacheEntry | undefined)[]> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    if (keys.length === 0) return [];
    const results = await batch(
      keys.map((key) => ({ op: 'get', ns, key, meta: true })),
      'getMany',
    );
    return Promise.all(
      results.map((result, i) => {
        if (result.status === 200) return entryFromResult(result);
        if (result.status === 404) return undefined;
        // Past the server's answer budget (413): read this one on its own.
        if (result.status === 413) return get(ns, keys[i] as string);
        throw opError(result, 'getMany');
      }),
    );
  }

  async function putOne(ns: string, write: ValidatedWrite): Promise<SetResult> {
    if (unmatchable(write)) return { written: false };
    const headers: Record<string, string> = { 'content-type': write.contentType, ...conditionHeaders(write.condition) };
    if (write.tags.length > 0) headers['cache-tag'] = tagHeader(write.tags);
    // Many long tags exceed what servers take in request headers (Node: 16 KiB in all): send them in a batch body instead.
    if ((headers['cache-tag']?.length ?? 0) > MAX_TAG_HEADER || !pathAddressable(write.key)) {
      const op = setOp(ns, write);
      if (opBytes(op) <= BATCH_BODY_BUDGET) return setResult((await batch([op], 'set'))[0] as BatchResult, 'set');
    }
    const answer = await client.call({
      method: 'PUT',
      path: keyPath('cache', ns, write.key),
      query: { ttl: ttlQuery(write.ttl) },
      headers,
      body: write.value,
      expect: [412],
      operation: 'set',
    });
    if (answer.status === 412) return { written: false };
    return { written: true, etag: unquoteEtag(answer.headers.etag) ?? '', created: answer.status === 201 };
  }

  async function set(ns: string, key: string, value: CacheValue, opts: SetOptions = {}): Promise<SetResult> {
    validateNamespace(ns);
    return putOne(ns, validateWrite(key, value, opts, options.maxValueBytes));
  }

  async function setMany(ns: string, items: SetManyItem[]): Promise<SetResult[]> {
    validateNamespace(ns);
    if (!Array.isArray(items)) throw new ValidationError({ name: 'items', reason: 'must be an array' });
    validateBatchSize(items.length, options.maxBatch, 'items');
    const writes = items.map((item, i) => validateWrite(item.key, item.value, item, options.maxValueBytes, `items[${i}].`));
    const results: SetResult[] = new Array(writes.length);
    // A value too large for a batch body on its own (escaped JSON text) goes as a plain PUT, in its place.
    let pending: { index: number; op: BatchOp }[] = [];
    const flush = async (): Promise<void> => {
      const answers = await batch(
        pending.map((p) => p.op),
        'setMany',
      );
      answers.forEach((result, j) => {
        results[(pending[j] as { index: number }).index] = setResult(result, 'setMany');
      });
      pending = [];
    };
    for (const [index, write] of writes.entries()) {
      if (unmatchable(write)) {
        results[index] = { written: false };
        continue;
      }
      const op = setOp(ns, write);
      if (opBytes(op) > BATCH_BODY_BUDGET) {
        if (pending.length > 0) await flush();
        results[index] = await putOne(ns, write);
      } else pending.push({ index, op });
    }
    if (pending.length > 0) await flush();
    return results;
  }

  async function deleteOne(ns: string, key: string): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    if (!pathAddressable(key)) return (await deleteMany(ns, [key])) === 1;
    const answer = await client.call({ method: 'DELETE', path: keyPath('cache', ns, key), expect: [404], operation: 'delete' });
    return answer.status !== 404;
  }

  async function deleteMany(ns: string, keys: string[]): Promise<number> {
    validateNamespace(ns);
    validateKeys(keys);
    validateBatchSize(keys.length, options.maxBatch, 'keys');
    const unique = [...new Set(keys)];
    if (unique.length === 0) return 0;
    const results = await batch(
      unique.map((key) => ({ op: 'delete', ns, key })),
      'deleteMany',
    );
    let deleted = 0;
    for (const result of results) {
      if (result.status === 204) deleted++;
      else if (result.status !== 404) throw opError(result, 'deleteMany');
    }
    return deleted;
  }

  /** HEAD: an entry's expiry without its bytes; undefined when absent (a batch get for keys no path can address). */
  async function expiryOf(ns: string, key: string, operation: string): Promise<{ expiresAt: number | null } | undefined> {
    validateNamespace(ns);
    validateKey(key);
    if (!pathAddressable(key)) return batchGet(ns, key, operation);
    const answer = await client.call({ method: 'HEAD', path: keyPath('cache', ns, key), expect: [404], operation });
    return answer.status === 404 ? undefined : { expiresAt: epochMs(header(answer.headers, 'expires-at')) };
  }

  async function has(ns: string, key: string): Promise<boolean> {
    return (await expiryOf(ns, key, 'has')) !== undefined;
  }

  async function ttl(ns: string, key: string): Promise<number | null | undefined> {
    const entry = await expiryOf(ns, key, 'ttl');
    if (entry === undefined) return undefined;
    return entry.expiresAt === null ? null : Math.max(1, entry.expiresAt - Date.now());
  }

  async function expire(ns: string, key: string, ttlMs: number | null): Promise<boolean> {
    validateNamespace(ns);
    validateKey(key);
    validateExpireTtl(ttlMs);
    if (!pathAddressable(key))
      throw new ValidationError({
        name: 'key',
        reason: 'expire over HTTP needs a key without empty, "." or ".." segments (PATCH is a path route)',
      });
    const answer = await client.call({
      method: 'PATCH',
      path: keyPath('cache', ns, key),
      body: { ttl: ttlMs === null ? null : duration(ttlMs) },
      expect: [404],
      operation: 'expire',
    });
    return answer.status !== 404;
  }

  async function increment(ns: string, key: string, by?: bigint | number, opts: IncrementOptions = {}): Promise<bigint> {
    validateNamespace(ns);
    validateKey(key);
    const delta = toIncrementBy(by);
    validateTtl(opts.ttl);
    const body: Record<string, unknown> = { by: delta.toString() };
    if (opts.ttl !== undefined) body.ttl = opts.ttl === null ? 'none' : duration(opts.ttl);
    if (!pathAddressable(key)) {
      const result = (await batch([{ op: 'incr', ns, key, ...body }], 'increment'))[0] as BatchResult;
      if (result.status === 200) return counterValue(result.value);
      throw opError(result, 'increment', key);
    }
    const answer = await client.call({ method: 'POST', path: keyPath('counters', ns, key), body, expect: [409], operation: 'increment' });
    if (answer.status === 409) throw problemError(answer, 'increment', key);
    return counterValue(jsonObject(answer.body.toString('utf8'), 'increment').value);
  }

  async function invalidate(ns: string, body: Record<string, unknown>, operation: string): Promise<number> {
    const { body: answer } = await client.json<{ deleted: number }>({
      method: 'POST',
      path: `/v1/namespaces/${segment(ns)}/invalidate`,
      body,
      operation,
    });
    return answer.deleted;
  }

  async function deleteByPrefix(ns: string, prefix: string): Promise<number> {
    validateNamespace(ns);
    validatePrefix(prefix);
    return invalidate(ns, { prefix }, 'deleteByPrefix');
  }

  async function invalidateTags(ns: string, tags: string[]): Promise<number> {
    validateNamespace(ns);
    validateTags(tags, 'tags', false);
    return invalidate(ns, { tags: [...new Set(tags)] }, 'invalidateTags');
  }

  async function clear(ns: string): Promise<number> {
    validateNamespace(ns);
    const { body } = await client.json<{ deleted: number }>({
      method: 'DELETE',
      path: `/v1/namespaces/${segment(ns)}/entries`,
      operation: 'clear',
    });
    return body.deleted;
  }

  return { get, getMany, set, setMany, delete: deleteOne, deleteMany, has, ttl, expire, increment, deleteByPrefix, invalidateTags, clear };
}
