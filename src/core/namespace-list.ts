/**
 * Paging of namespace lists, the same on every adapter: validation of the
 * options, and turning the (limit + 1) candidate names a backend found after
 * the cursor into one page.
 */
import { ValidationError } from './errors.js';
import type { NamespaceAdmin, NamespaceFilter, NamespaceInfo, NamespaceListOptions, NamespacePage } from './port.js';

type NamespaceLister = Pick<NamespaceAdmin, 'list'>;
import { validateListLimit, validateNamespace } from './validation.js';

export const DEFAULT_NAMESPACE_LIST_LIMIT = 100;
export const MAX_NAMESPACE_LIST_LIMIT = 1000;

export interface NamespaceListRequest {
  limit: number;
  /** Names strictly after this one; undefined from the start. */
  after: string | undefined;
  only: NamespaceFilter | undefined;
}

export function prepareNamespaceList(options: NamespaceListOptions = {}): NamespaceListRequest {
  validateListLimit(options.limit, MAX_NAMESPACE_LIST_LIMIT);
  const { cursor, only } = options;
  if (cursor !== undefined) validateNamespace(cursor, 'cursor');
  if (only !== undefined) {
    const valid = (list: unknown) => Array.isArray(list) && list.every((item) => typeof item === 'string');
    if (!valid(only.names) || !valid(only.prefixes)) throw new ValidationError({ name: 'only', reason: 'must list names and prefixes' });
  }
  return { limit: options.limit ?? DEFAULT_NAMESPACE_LIST_LIMIT, after: cursor, only };
}

/** Every namespace the port lists, page by page (for maintenance jobs). */
export async function* allNamespaces(port: NamespaceLister, only?: NamespaceFilter): AsyncGenerator<NamespaceInfo> {
  let cursor: string | undefined;
  do {
    const page = await port.list({ limit: MAX_NAMESPACE_LIST_LIMIT, cursor, only });
    yield* page.namespaces;
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
}

/** True when `only` lets `name` through. */
export function namespaceAllowed(only: NamespaceFilter | undefined, name: string): boolean {
  return only === undefined || only.names.includes(name) || only.prefixes.some((prefix) => name.startsWith(prefix));
}

/**
 * `candidates`: up to limit + 1 names after the cursor, in order, described.
 * The page covers the first `limit`; a further one means there is more.
 * Unconfigured names without a live entry (all expired) are left out.
 */
export function toNamespacePage(candidates: NamespaceInfo[], limit: number): NamespacePage {
  const covered = candidates.slice(0, limit);
  const more = candidates.length > limit;
  return {
    namespaces: covered.filter((info) => info.configured || info.stats.entries > 0),
    cursor: more ? (covered[covered.length - 1] as NamespaceInfo).name : null,
  };
}
