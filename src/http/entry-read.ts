/**
 * Reading one entry for GET/HEAD /v1/cache/{ns}/{key}: the lookup, its metric, the 404, and the answer's
 * status and headers. Shared by the Hono route (./routes/entries.ts) and the lean path
 * (./fast-entry-read.ts), so both answer alike.
 */
import type { CacheEntry } from '../core/port.js';
import { countLookup } from '../metrics.js';
import type { AppDeps } from './env.js';
import { parseEtagList, quoteEtag } from './fields.js';
import { namespaceLabels } from './namespace-labels.js';
import { HttpProblem } from './problem.js';

/** The route pattern of the entry routes as Hono reports it (metric and log label): '/cache/:ns/*' mounted on /v1. */
export const ENTRY_ROUTE = '/v1/cache/:ns/*';

/** The entry, counted as a lookup hit or miss; a 404 problem when there is none. */
export async function readEntry(deps: Pick<AppDeps, 'port' | 'localEntries'>, ns: string, key: string): Promise<CacheEntry> {
  // Answered from this process's local cache when the namespace has one (./local-entries.ts); same response either way.
  const { entry } = await deps.localEntries.get(ns, key);
  countLookup(namespaceLabels(deps.port).label(ns), entry !== undefined);
  if (!entry) throw new HttpProblem(404, 'not-found', `no entry ${JSON.stringify(key)} in namespace ${ns}`);
  return entry;
}

export interface EntryAnswer {
  /** If-None-Match matched: 304 with these headers and no body; else 200 with the value. */
  notModified: boolean;
  /** A plain object, written as is by the Node server (no WHATWG Headers round trip). */
  headers: Record<string, string>;
}

/** Status and headers of the answer; throws a 400 problem for a malformed If-None-Match. */
export function entryAnswer(entry: CacheEntry, ifNoneMatch: string | undefined): EntryAnswer {
  const headers: Record<string, string> = { etag: quoteEtag(entry.etag) };
  if (entry.expiresAt !== null) {
    headers['cache-control'] = `max-age=${Math.max(0, Math.floor((entry.expiresAt - Date.now()) / 1000))}`;
    // The exact expiry (max-age is whole seconds): what the HTTP adapter reads back as expiresAt and ttl.
    headers['expires-at'] = new Date(entry.expiresAt).toISOString();
  }
  if (entry.tags.length > 0) headers['cache-tag'] = cacheTagHeader(entry.tags);
  if (ifNoneMatch !== undefined) {
    const tags = parseEtagList(ifNoneMatch, 'If-None-Match');
    // Only a bare `*` is the wildcard; a quoted `"*"` is an entity tag like any other (parseEtagList unquotes both).
    if (ifNoneMatch.trim() === '*' || tags.includes(entry.etag)) return { notModified: true, headers };
  }
  headers['content-type'] = entry.contentType;
  headers['content-length'] = String(entry.value.byteLength);
  return { notModified: false, headers };
}

/** The value to send: a view on the stored bytes, not a copy. */
export function entryBody(entry: CacheEntry): Uint8Array<ArrayBuffer> {
  return new Uint8Array(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength) as Uint8Array<ArrayBuffer>;
}

/** Tags on the wire: percent-encoded outside printable ASCII, and `%` and `,` themselves, so any tag survives a round trip. */
function cacheTagHeader(tags: string[]): string {
  return tags.map((tag) => tag.replace(/[^\x21-\x7e]|[%,]/gu, (ch) => encodeURIComponent(ch))).join(', ');
}
