/**
 * Metric labels for namespaces (src/http/namespace-labels.ts) on a real port:
 * what this process configures or drops while a background refresh of the
 * namespace list is in flight must not be undone by that refresh's older
 * snapshot.
 */
import { describe, expect, it } from 'vitest';
import { NamespaceLabels, OTHER_NAMESPACES } from '../../src/http/namespace-labels.js';
import { BACKENDS, useBackend } from '../support/backends.js';
import { sleep } from './helpers.js';

describe.each(BACKENDS)('namespace metric labels on $name', (factory) => {
  const backend = useBackend(factory);

  it('a configure or drop during a refresh outlives the refresh', async () => {
    await backend.port.configure('labels-dropped', { maxEntries: 10 });
    const labels = new NamespaceLabels(backend.port);
    // The first label() starts a refresh; its list snapshot predates the two calls below.
    expect(labels.label('labels-probe')).toBe(OTHER_NAMESPACES);
    labels.configuredNow('labels-fresh');
    labels.droppedNow('labels-dropped');
    await sleep(1500);
    expect(labels.label('labels-fresh')).toBe('labels-fresh');
    expect(labels.label('labels-dropped')).toBe(OTHER_NAMESPACES);
  });
});
