import type { NamespaceConfig } from '../../core/port.js';

/** The tables holding cache entries, the only table identifiers entry SQL may use: a fixed set, never user input. */
export const ENTRY_TABLES = ['entries', 'durable_entries'] as const;
export type EntryTable = (typeof ENTRY_TABLES)[number];

/** Durable namespaces live in the logged table; everything else in the UNLOGGED one. */
export function tableFor(config: Pick<NamespaceConfig, 'durable'>): EntryTable {
  return config.durable ? 'durable_entries' : 'entries';
}

/**
 * Every table TTL cleanup sweeps. Each must have an `expires_at timestamptz`
 * column (NULL = never expires) with an index on it. To add a table, append
 * one line here.
 */
export const CLEANUP_TABLES = [
  ...ENTRY_TABLES,
  'sessions',
  'presence',
  'rate_limits',
  // Not `locks`: a lock's row keeps its fence after the lease lapses, and the fence must never repeat.
] as const;
export type CleanupTable = (typeof CLEANUP_TABLES)[number];
