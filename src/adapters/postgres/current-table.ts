/**
 * Keeps an entry write on the namespace's current table while the namespace
 * switches storage (entries <-> durable_entries).
 */
import { BackendTimeoutError, BackendUnavailableError } from '../../core/errors.js';
import type { NamespaceConfigCache } from '../../core/namespace-config-cache.js';
import type { NamespaceConfig } from '../../core/port.js';
import { isStorageMoved } from './entry-sql.js';
import { tableFor, type EntryTable } from './tables.js';

/** A write retried this often after storage switches gives up (each switch costs one retry). */
const MAX_STORAGE_ATTEMPTS = 4;

/**
 * Runs a write on the namespace's table as cached. Every write statement checks
 * that table under the namespace's shared lock (entry-sql storageGuard); when the
 * namespace has moved, nothing was written: reload the config and write again.
 */
export async function writeOnCurrentTable<T>(
  configs: NamespaceConfigCache,
  timeoutMs: number,
  ns: string,
  write: (config: NamespaceConfig, table: EntryTable) => Promise<T>,
): Promise<T> {
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    const config = await configs.get(ns);
    try {
      return await write(config, tableFor(config));
    } catch (error) {
      if (!isStorageMoved(error)) throw error;
      // Nothing was written; the caller gets a typed 503 (never the raw driver error, a 500) and may retry.
      if (attempt >= MAX_STORAGE_ATTEMPTS) {
        throw new BackendUnavailableError(`namespace ${ns} switched storage ${attempt} times during the write; nothing was written`, {
          cause: error,
        });
      }
      // No new attempt once the caller's time is spent: the answer stays within about one timeout.
      if (Date.now() - startedAt >= timeoutMs) throw new BackendTimeoutError(timeoutMs, 'write (storage switching)');
      configs.invalidate(ns);
    }
  }
}
