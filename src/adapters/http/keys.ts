/** Key listings, most-read entries and bulk expire over /v1/namespaces/{ns}/keys, /top and PATCH …/entries. */
import { prepareExpireScope, prepareKeyList, prepareTop } from '../../core/key-listing.js';
import type { ExpireManyFilter, KeyInspector, KeyListOptions, KeyPage, TopEntry } from '../../core/port.js';
import { validateNamespace } from '../../core/validation.js';
import { validateExpireTtl } from '../../core/write.js';
import type { HttpClient } from './client.js';
import { duration, epochMs, segment } from './wire.js';

const path = (ns: string, rest: string) => `/v1/namespaces/${segment(ns)}/${rest}`;

export function createHttpKeyInspector(client: HttpClient): KeyInspector {
  async function listKeys(ns: string, options: KeyListOptions = {}): Promise<KeyPage> {
    const request = prepareKeyList(ns, options);
    const { body } = await client.json<{ keys: { key: string; size: number; expiresAt: string | null }[]; cursor: string | null }>({
      method: 'GET',
      path: path(ns, 'keys'),
      query: { prefix: request.prefix === '' ? undefined : request.prefix, limit: String(request.limit), cursor: options.cursor },
      operation: 'listKeys',
    });
    return { keys: body.keys.map((k) => ({ key: k.key, size: k.size, expiresAt: epochMs(k.expiresAt) })), cursor: body.cursor };
  }

  async function top(ns: string, options: { limit?: number } = {}): Promise<TopEntry[]> {
    const limit = prepareTop(ns, options);
    const { body } = await client.json<{ entries: { key: string; hits: number; lastAccessAt: string | null }[] }>({
      method: 'GET',
      path: path(ns, 'top'),
      query: { limit: String(limit) },
      operation: 'top',
    });
    return body.entries.map((e) => ({ key: e.key, hits: e.hits, lastAccessAt: epochMs(e.lastAccessAt) }));
  }

  async function expireMany(ns: string, ttl: number | null, filter?: ExpireManyFilter): Promise<number> {
    validateNamespace(ns);
    validateExpireTtl(ttl);
    const scope = prepareExpireScope(filter);
    const body: Record<string, unknown> = { ttl: ttl === null ? null : duration(ttl) };
    if (scope.kind === 'prefix') body.prefix = scope.prefix;
    if (scope.kind === 'tags') body.tags = scope.tags;
    const answer = await client.json<{ updated: number }>({ method: 'PATCH', path: path(ns, 'entries'), body, operation: 'expireMany' });
    return answer.body.updated;
  }

  return { listKeys, top, expireMany };
}
