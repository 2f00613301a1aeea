/**
 * Namespace administration over /v1/namespaces. Durations come back as the
 * API's text (`1h`) and are turned into ms; a list's `only` filter is sent as
 * `name` / `prefix` query parameters so the server pages over the allowed names only.
 */
import { parseDuration } from '../../core/duration.js';
import { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import { namespaceAllowed, prepareNamespaceList } from '../../core/namespace-list.js';
import type {
  ConfigureResult,
  NamespaceAdmin,
  NamespaceConfig,
  NamespaceFilter,
  NamespaceInfo,
  NamespaceListOptions,
  NamespacePage,
  NamespaceStats,
} from '../../core/port.js';
import { BackendTimeoutError, BackendUnavailableError } from '../../core/errors.js';
import { validateNamespace, validateNamespaceConfig } from '../../core/validation.js';
import type { HttpClient } from './client.js';
import { duration, segment } from './wire.js';

interface NamespaceJson {
  name: string;
  configured: boolean;
  config: {
    defaultTtl: string | null;
    maxEntries: number | null;
    maxBytes: number | null;
    eviction: 'lru' | 'none';
    durable: boolean;
    localCache: { maxEntries: number; ttl: string } | null;
  };
  stats: NamespaceStats;
}

function ms(text: string | null): number | null {
  if (text === null) return null;
  const parsed = parseDuration(text);
  if (!parsed.ok) throw new Error(`the cacheport server sent an invalid duration ${JSON.stringify(text)}`);
  return parsed.ms;
}

function toConfig(json: NamespaceJson['config']): NamespaceConfig {
  return {
    defaultTtl: ms(json.defaultTtl),
    maxEntries: json.maxEntries,
    maxBytes: json.maxBytes,
    eviction: json.eviction,
    durable: json.durable,
    localCache: json.localCache === null ? null : { maxEntries: json.localCache.maxEntries, ttl: ms(json.localCache.ttl) as number },
  };
}

function toInfo(json: NamespaceJson): NamespaceInfo {
  const { entries, bytes, hits, misses, expiredPending, localHits } = json.stats;
  return {
    name: json.name,
    configured: json.configured,
    config: toConfig(json.config),
    stats: { entries, bytes, hits, misses, expiredPending, localHits },
  };
}

const path = (ns: string) => `/v1/namespaces/${segment(ns)}`;

/**
 * Longest `name` / `prefix` query a list sends: servers refuse long request lines (Node: 16 KiB of headers in
 * all, 431), and a filter of many names is longer.
 */
const MAX_FILTER_QUERY_BYTES = 8 * 1024;

function filterQueryBytes(only: NamespaceFilter): number {
  const bytes = (list: readonly string[], field: string) =>
    list.reduce((sum, value) => sum + field.length + 2 + encodeURIComponent(value).length, 0);
  return bytes(only.names, 'name') + bytes(only.prefixes, 'prefix');
}

/** As the server's route allows (src/http/routes/namespaces.ts). */
const MAX_LOCAL_HITS_REPORT = 1_000_000_000;

/** A config field as the API's JSON: durations as text. */
function toWire(field: string, value: unknown): unknown {
  if (field === 'defaultTtl' && typeof value === 'number') return duration(value);
  if (field === 'localCache' && value !== null && typeof value === 'object') {
    const local = value as { maxEntries: number; ttl: number };
    return { maxEntries: local.maxEntries, ttl: duration(local.ttl) };
  }
  return value;
}

export function createHttpNamespaceAdmin(client: HttpClient, localHits: LocalHitReporter, configMaxAgeMs = 1000): NamespaceAdmin {
  // GET /v1/namespaces/{ns} computes stats too; cached like the other adapters' config (1 s).
  const configs = new NamespaceConfigCache(async (ns) => (await describe(ns)).config, configMaxAgeMs);

  async function configure(ns: string, config: Partial<NamespaceConfig>): Promise<ConfigureResult> {
    validateNamespace(ns);
    validateNamespaceConfig(config);
    const body: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(config)) {
      if (value === undefined) continue;
      body[field] = toWire(field, value);
    }
    configs.invalidate(ns);
    const answer = await client.json<NamespaceJson>({ method: 'PUT', path: path(ns), body, operation: 'configure' });
    configs.invalidate(ns);
    return { created: answer.status === 201, config: toConfig(answer.body.config) };
  }

  async function describe(ns: string): Promise<NamespaceInfo> {
    validateNamespace(ns);
    // Local hits counted before this call are part of the answer, as with the other adapters.
    await localHits.flush();
    return toInfo((await client.json<NamespaceJson>({ method: 'GET', path: path(ns), operation: 'describe' })).body);
  }

  async function list(options: NamespaceListOptions = {}): Promise<NamespacePage> {
    const request = prepareNamespaceList(options);
    const { only } = request;
    // Nothing is allowed: no request needed (and the query could not say "none").
    if (only !== undefined && only.names.length === 0 && only.prefixes.length === 0) return { namespaces: [], cursor: null };
    const query: Record<string, string | string[] | undefined> = { limit: String(request.limit), cursor: request.after };
    // A filter too long for a request line is applied here, to unfiltered pages (a page may then be short).
    const filterHere = only !== undefined && !only.prefixes.includes('') && filterQueryBytes(only) > MAX_FILTER_QUERY_BYTES;
    if (only !== undefined && !filterHere) {
      // `prefix=''` would allow every name: that is no filter at all.
      if (only.prefixes.includes('')) query.prefix = [''];
      else {
        query.name = [...only.names];
        query.prefix = [...only.prefixes];
      }
    }
    const { body } = await client.json<{ namespaces: NamespaceJson[]; cursor: string | null }>({
      method: 'GET',
      path: '/v1/namespaces',
      query,
      operation: 'list',
    });
    const namespaces = body.namespaces.map(toInfo);
    return { namespaces: filterHere ? namespaces.filter((info) => namespaceAllowed(only, info.name)) : namespaces, cursor: body.cursor };
  }

  async function drop(ns: string): Promise<void> {
    validateNamespace(ns);
    configs.invalidate(ns);
    await client.call({ method: 'DELETE', path: path(ns), operation: 'drop' });
    configs.invalidate(ns);
  }

  async function stats(ns: string): Promise<NamespaceStats> {
    return (await describe(ns)).stats;
  }

  function countLocalHits(ns: string, count: number): void {
    localHits.count(ns, count);
  }

  function namespaceConfig(ns: string): Promise<NamespaceConfig> {
    validateNamespace(ns);
    return configs.get(ns);
  }

  return { configure, describe, list, drop, stats, namespaceConfig, countLocalHits };
}

/**
 * countLocalHits over HTTP: counts are buffered per namespace and sent as
 * `POST /v1/namespaces/{ns}/local-hits` about once a second and on close,
 * like the other adapters' hit counters. Never an error: a report that failed
 * because the server was unreachable, slow or down is kept for the next flush
 * (a crash loses at most one interval); one the server refused is dropped.
 */
export class LocalHitReporter {
  private pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly client: HttpClient,
    intervalMs = 1000,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  count(ns: string, n: number): void {
    if (!Number.isInteger(n) || n <= 0) return;
    this.pending.set(ns, Math.min((this.pending.get(ns) ?? 0) + n, MAX_LOCAL_HITS_REPORT));
  }

  /** Sends what was counted before the call; a report already on its way is awaited first, then the rest is sent. */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = (async () => {
      try {
        await Promise.all(
          [...batch].map(async ([ns, count]) => {
            try {
              await this.client.call({ method: 'POST', path: `${path(ns)}/local-hits`, body: { count }, operation: 'countLocalHits' });
            } catch (error) {
              // Kept for the next flush only when the server may take it then; a refusal (403 of a read-only
              // token, 400) would be the same every second, forever.
              if (error instanceof BackendUnavailableError || error instanceof BackendTimeoutError) this.count(ns, count);
            }
          }),
        );
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
