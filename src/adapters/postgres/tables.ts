import type { NamespaceConfig } from '../../core/port.js';

/** The only table identifiers entry SQL may use: a fixed set, never user input. */
export type EntryTable = 'entries' | 'durable_entries';

/** Durable namespaces live in the logged table; everything else in the UNLOGGED one. */
export function tableFor(config: NamespaceConfig): EntryTable {
  return config.durable ? 'durable_entries' : 'entries';
}
