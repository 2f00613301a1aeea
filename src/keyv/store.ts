/**
 * A Keyv storage adapter over any CachePort: `new Keyv({ store: new
 * KeyvCacheport({ port }) })`. Every Keyv namespace lives in one cacheport
 * namespace (default `keyv`) under the key prefix `<keyv namespace>:`, which
 * is how Keyv itself prefixes keys; `clear()` deletes that prefix only.
 *
 * It imports nothing from keyv at runtime (the shape is structural), so
 * `cacheport` works without keyv installed.
 */
import { EventEmitter } from 'node:events';
import { ValidationError } from '../core/errors.js';
import { MAX_KEY_LIST_LIMIT } from '../core/key-listing.js';
import type { CachePort, KeyPage, SetManyItem } from '../core/port.js';
import { validateKey, validateKeys, validateNamespace } from '../core/validation.js';
import { toStoreTtl } from './ttl.js';
import { decodeValue, encodeValue } from './values.js';

/** The port calls the store makes (listKeys for iteration). */
export type KeyvPort = Pick<
  CachePort,
  'backend' | 'get' | 'getMany' | 'set' | 'setMany' | 'delete' | 'deleteMany' | 'has' | 'deleteByPrefix' | 'clear' | 'listKeys' | 'close'
>;

export interface KeyvCacheportOptions {
  port: KeyvPort;
  /** The cacheport namespace holding every Keyv namespace of this store. Default `keyv`. */
  namespace?: string;
  /** Keys per port call in getMany, setMany, deleteMany, hasMany and per listed page; at most the port's maxBatch. Default 1000. */
  batchSize?: number;
  /** Whether Keyv's `disconnect()` closes the port. Default true (Keyv's meaning: release the store's connections). */
  closeOnDisconnect?: boolean;
}

/** `opts` as Keyv reads it. */
export interface KeyvCacheportOpts {
  /**
   * Keyv 5 offers `keyv.iterator()` only for a store whose dialect is on its
   * list (postgres, redis, …). Every port can iterate, so: `postgres` for a
   * Postgres port, `redis` for the others (Redis, and the HTTP adapter, which
   * keeps the same Redis-style semantics).
   */
  dialect: 'postgres' | 'redis';
  /** The port's backend as it reports it. */
  backend: KeyvPort['backend'];
  namespace: string;
  batchSize: number;
  closeOnDisconnect: boolean;
}

/** What Keyv hands `setMany`: its namespaced key, its serialized value, ttl in ms. */
export interface KeyvStoreEntry {
  key: string;
  value: unknown;
  ttl?: number;
}

export const DEFAULT_KEYV_NAMESPACE = 'keyv';
export const DEFAULT_KEYV_BATCH_SIZE = 1000;
/** A batch is also a listKeys page, which holds at most this many keys. */
const MAX_BATCH_SIZE = MAX_KEY_LIST_LIMIT;

function fail(name: string, reason: string): never {
  throw new ValidationError({ name, reason });
}

/**
 * Checked up front, not per port batch: a bad key in a later batch must not
 * leave earlier batches deleted or written, and a non-array must not read as
 * "no keys".
 */
function validateKeyList(keys: unknown): asserts keys is string[] {
  validateKeys(keys);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class KeyvCacheport extends EventEmitter {
  readonly opts: KeyvCacheportOpts;
  /** The Keyv namespace; Keyv sets it. Undefined: keys are not prefixed and `clear()` empties the cacheport namespace. */
  namespace?: string | undefined;
  readonly port: KeyvPort;

  constructor(options: KeyvCacheportOptions) {
    super();
    if (typeof options !== 'object' || options === null) fail('options', 'must be an object with a port');
    const { port, namespace = DEFAULT_KEYV_NAMESPACE, batchSize = DEFAULT_KEYV_BATCH_SIZE, closeOnDisconnect = true } = options;
    if (typeof port !== 'object' || port === null || typeof port.get !== 'function') fail('port', 'must be a CachePort');
    validateNamespace(namespace);
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      fail('batchSize', `must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
    if (typeof closeOnDisconnect !== 'boolean') fail('closeOnDisconnect', 'must be a boolean');
    this.port = port;
    const dialect = port.backend === 'postgres' ? 'postgres' : 'redis';
    this.opts = { dialect, backend: port.backend, namespace, batchSize, closeOnDisconnect };
  }

  private get ns(): string {
    return this.opts.namespace;
  }

  async get<Value = unknown>(key: string): Promise<Value | undefined> {
    const entry = await this.port.get(this.ns, key);
    return entry === undefined ? undefined : (decodeValue(entry.value, entry.contentType) as Value);
  }

  /** Same order as `keys`; one port call per batch. */
  async getMany<Value = unknown>(keys: string[]): Promise<Array<Value | undefined>> {
    validateKeyList(keys);
    const out: Array<Value | undefined> = [];
    for (const batch of chunks(keys, this.opts.batchSize)) {
      for (const entry of await this.port.getMany(this.ns, batch)) {
        out.push(entry === undefined ? undefined : (decodeValue(entry.value, entry.contentType) as Value));
      }
    }
    return out;
  }

  /** `ttl` in ms; undefined or 0 = no expiry (not the namespace default); negative deletes the key. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const storeTtl = toStoreTtl(ttl);
    if (storeTtl === 'expired') {
      await this.port.delete(this.ns, key);
      return true;
    }
    const encoded = encodeValue(value);
    const result = await this.port.set(this.ns, key, encoded.value, { ttl: storeTtl, contentType: encoded.contentType });
    return result.written;
  }

  /** Every entry is written (the last one wins for a repeated key); one port call per batch. */
  async setMany(entries: KeyvStoreEntry[]): Promise<boolean[]> {
    if (!Array.isArray(entries)) fail('entries', 'must be an array of { key, value, ttl? }');
    const last = new Map<string, KeyvStoreEntry>();
    for (const [i, entry] of entries.entries()) {
      if (typeof entry !== 'object' || entry === null) fail(`entries[${i}]`, 'must be an object { key, value, ttl? }');
      validateKey(entry.key, `entries[${i}].key`);
      last.set(entry.key, entry);
    }
    const writes: SetManyItem[] = [];
    const expired: string[] = [];
    // Encode everything first: a bad key, value or ttl fails the call before anything is written.
    for (const [key, entry] of last) {
      const ttl = toStoreTtl(entry.ttl);
      if (ttl === 'expired') expired.push(key);
      else writes.push({ key, ttl, ...encodeValue(entry.value) });
    }
    for (const batch of chunks(writes, this.opts.batchSize)) await this.port.setMany(this.ns, batch);
    for (const batch of chunks(expired, this.opts.batchSize)) await this.port.deleteMany(this.ns, batch);
    return entries.map(() => true);
  }

  async delete(key: string): Promise<boolean> {
    return this.port.delete(this.ns, key);
  }

  /** True when at least one of the keys existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    validateKeyList(keys);
    let deleted = 0;
    for (const batch of chunks(keys, this.opts.batchSize)) deleted += await this.port.deleteMany(this.ns, batch);
    return deleted > 0;
  }

  async has(key: string): Promise<boolean> {
    return this.port.has(this.ns, key);
  }

  /** One getMany per batch rather than one call per key. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    validateKeyList(keys);
    const out: boolean[] = [];
    for (const batch of chunks(keys, this.opts.batchSize)) {
      for (const entry of await this.port.getMany(this.ns, batch)) out.push(entry !== undefined);
    }
    return out;
  }

  /** Deletes the Keyv namespace's keys (`<namespace>:` prefix); without a Keyv namespace, the whole cacheport namespace. */
  async clear(): Promise<void> {
    if (this.namespace) await this.port.deleteByPrefix(this.ns, `${this.namespace}:`);
    else await this.port.clear(this.ns);
  }

  /**
   * Yields `[key, value]` for every live entry of a Keyv namespace (keys as
   * stored, `<namespace>:key`), a page of listKeys and one getMany at a time.
   * An entry deleted between the listing and the read is skipped.
   */
  async *iterator<Value = unknown>(namespace: string | undefined = this.namespace): AsyncGenerator<[string, Value], void> {
    const prefix = namespace ? `${namespace}:` : undefined;
    let cursor: string | null = null;
    do {
      const page: KeyPage = await this.port.listKeys(this.ns, { prefix, limit: this.opts.batchSize, cursor: cursor ?? undefined });
      const keys = page.keys.map((info) => info.key);
      const values = await this.getMany<Value>(keys);
      for (const [i, key] of keys.entries()) {
        const value = values[i];
        if (value !== undefined) yield [key, value];
      }
      cursor = page.cursor;
    } while (cursor !== null);
  }

  /** Closes the port when `closeOnDisconnect` (the default). */
  async disconnect(): Promise<void> {
    if (this.opts.closeOnDisconnect) await this.port.close();
  }
}
