/**
 * An in-memory model of the Entries semantics of one namespace, without time
 * (every entry lives forever). Model-based tests run the same operations on an
 * adapter and on this model and compare every result.
 *
 * ETags are random, so the model does not invent them: it records the ETag an
 * adapter returned for a write, and when a write's ETag is not returned
 * (increment) it marks it unknown and remembers which ETag it must differ from.
 */

export type ModelCondition = 'always' | 'absent' | 'present' | { etag: string };

export interface ModelEntry {
  value: Buffer;
  tags: string[];
  /** Undefined when the last write was an increment (not observed yet). */
  etag: string | undefined;
  /** Undefined when the port does not specify it (increment of an existing entry). */
  contentType: string | undefined;
}

export type SetDecision = { written: false } | { written: true; created: boolean };

export type IncrementOutcome = { ok: true; value: bigint } | { ok: false; error: 'not_integer' | 'overflow' };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL_INTEGER = /^(0|-?[1-9][0-9]*)$/;

/** A stored counter: canonical decimal text within signed 64 bits. */
export function parseCounter(value: Buffer): bigint | undefined {
  const digits = value.toString('latin1');
  if (!DECIMAL_INTEGER.test(digits) || digits.length > 20) return undefined;
  const n = BigInt(digits);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

export class EntriesModel {
  private readonly entries = new Map<string, ModelEntry>();
  /** Every ETag each key has ever had: a new write must never reuse one (no ABA). */
  private readonly etagHistory = new Map<string, Set<string>>();

  get(key: string): ModelEntry | undefined {
    return this.entries.get(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  previousEtags(key: string): string[] {
    return [...(this.etagHistory.get(key) ?? [])];
  }

  /** What a set with `condition` must do, without doing it. */
  decideSet(key: string, condition: ModelCondition): SetDecision {
    const current = this.entries.get(key);
    const exists = current !== undefined;
    let writes: boolean;
    if (condition === 'always') writes = true;
    else if (condition === 'absent') writes = !exists;
    else if (condition === 'present') writes = exists;
    else writes = exists && current.etag === condition.etag;
    return writes ? { written: true, created: !exists } : { written: false };
  }

  applySet(key: string, value: Buffer, tags: string[], contentType: string | undefined, etag: string): void {
    this.entries.set(key, { value, tags: [...new Set(tags)].sort(), etag, contentType: contentType ?? 'application/octet-stream' });
    this.rememberEtag(key, etag);
  }

  /** Records the ETag of an entry whose last write was an increment, once observed. */
  learnEtag(key: string, etag: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.etag !== undefined) return;
    entry.etag = etag;
    this.rememberEtag(key, etag);
  }

  isReusedEtag(key: string, etag: string): boolean {
    return this.etagHistory.get(key)?.has(etag) ?? false;
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  deleteMany(keys: string[]): number {
    let deleted = 0;
    for (const key of new Set(keys)) if (this.entries.delete(key)) deleted += 1;
    return deleted;
  }

  increment(key: string, by: bigint): IncrementOutcome {
    const current = this.entries.get(key);
    const start = current === undefined ? 0n : parseCounter(current.value);
    if (start === undefined) return { ok: false, error: 'not_integer' };
    const next = start + by;
    if (next < INT64_MIN || next > INT64_MAX) return { ok: false, error: 'overflow' };
    this.entries.set(key, {
      value: Buffer.from(next.toString(), 'latin1'),
      tags: current?.tags ?? [],
      etag: undefined,
      contentType: current === undefined ? 'application/octet-stream' : undefined,
    });
    return { ok: true, value: next };
  }

  /** Literal prefix: for well-formed strings a UTF-16 prefix is also a code-point and UTF-8 byte prefix. */
  deleteByPrefix(prefix: string): number {
    return this.deleteWhere((key) => key.startsWith(prefix));
  }

  invalidateTags(tags: string[]): number {
    return this.deleteWhere((_, entry) => entry.tags.some((tag) => tags.includes(tag)));
  }

  clear(): number {
    return this.deleteWhere(() => true);
  }

  private deleteWhere(matches: (key: string, entry: ModelEntry) => boolean): number {
    let deleted = 0;
    for (const [key, entry] of [...this.entries]) {
      if (matches(key, entry)) {
        this.entries.delete(key);
        deleted += 1;
      }
    }
    return deleted;
  }

  private rememberEtag(key: string, etag: string): void {
    let history = this.etagHistory.get(key);
    if (history === undefined) {
      history = new Set();
      this.etagHistory.set(key, history);
    }
    history.add(etag);
  }
}
