/**
 * Invalid calls, each with the invalid-param name it must report. Used twice:
 * against the live port (nothing may change) and against a port whose backend
 * is unreachable (validation must come before any backend call).
 */
import type { CachePort, NamespaceConfig, SetOptions, WriteCondition } from '../../src/core/port.js';

export interface InvalidCall {
  title: string;
  field: RegExp;
  call(port: CachePort, ns: string): Promise<unknown>;
}

const NS = /^(ns|namespace)/;
const KEY = /key/;
const TTL = /ttl/i;
const TAGS = /tag/;

/** Casts for inputs the types forbid but JavaScript callers (and the HTTP layer) can send. */
function loose<T>(value: unknown): T {
  return value as T;
}

export const BAD_NAMESPACES: string[] = [
  '',
  'Upper',
  'A',
  '-leading-dash',
  '_leading-underscore',
  '.leading-dot',
  'a'.repeat(64),
  'has space',
  'has:colon',
  'has/slash',
  'has*star',
  'ümlaut',
  'nul\u0000',
  'new\nline',
];

const BAD_KEYS: [string, string][] = [
  ['empty', ''],
  ['1025 bytes', 'k'.repeat(1025)],
  ['1025 bytes of 2-byte characters', `a${'é'.repeat(512)}`],
  ['NUL', 'a\u0000b'],
  ['lone high surrogate', 'a\ud800b'],
  ['lone low surrogate', '\udc00'],
];

const BAD_TTLS: [string, unknown][] = [
  ['0', 0],
  ['negative', -1],
  ['fractional', 1.5],
  ['over 365 days', 365 * 24 * 60 * 60 * 1000 + 1],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['a string', '1000'],
];

const BAD_TAGS: [string, unknown][] = [
  ['not an array', 'tag'],
  ['an empty tag', ['ok', '']],
  ['a tag with NUL', ['a\u0000']],
  ['a lone surrogate tag', ['\ud800']],
  ['a non-string tag', [1]],
  ['a 257-byte tag', ['t'.repeat(257)]],
  ['65 tags', Array.from({ length: 65 }, (_, i) => `t${i}`)],
];

const BAD_CONDITIONS: [string, unknown][] = [
  ['an unknown word', 'maybe'],
  ['an empty etag', { etag: '' }],
  ['a non-string etag', { etag: 5 }],
  ['an object without etag', {}],
  ['null', null],
];

export function invalidCalls(): InvalidCall[] {
  const calls: InvalidCall[] = [];
  const add = (title: string, field: RegExp, call: InvalidCall['call']): void => {
    calls.push({ title, field, call });
  };

  for (const bad of BAD_NAMESPACES) {
    const label = JSON.stringify(bad.length > 20 ? `${bad.slice(0, 20)}…` : bad);
    add(`get in namespace ${label}`, NS, (p) => p.get(bad, 'k'));
    add(`set in namespace ${label}`, NS, (p) => p.set(bad, 'k', 'v'));
    add(`increment in namespace ${label}`, NS, (p) => p.increment(bad, 'k'));
    add(`clear of namespace ${label}`, NS, (p) => p.clear(bad));
    add(`configure of namespace ${label}`, NS, (p) => p.configure(bad, {}));
    add(`describe of namespace ${label}`, NS, (p) => p.describe(bad));
    add(`stats of namespace ${label}`, NS, (p) => p.stats(bad));
    add(`drop of namespace ${label}`, NS, (p) => p.drop(bad));
  }
  add('getMany in a bad namespace', NS, (p) => p.getMany('Bad', ['k']));
  add('setMany in a bad namespace', NS, (p) => p.setMany('Bad', [{ key: 'k', value: 'v' }]));
  add('delete in a bad namespace', NS, (p) => p.delete('Bad', 'k'));
  add('deleteMany in a bad namespace', NS, (p) => p.deleteMany('Bad', ['k']));
  add('has in a bad namespace', NS, (p) => p.has('Bad', 'k'));
  add('ttl in a bad namespace', NS, (p) => p.ttl('Bad', 'k'));
  add('expire in a bad namespace', NS, (p) => p.expire('Bad', 'k', 1000));
  add('deleteByPrefix in a bad namespace', NS, (p) => p.deleteByPrefix('Bad', 'k'));
  add('invalidateTags in a bad namespace', NS, (p) => p.invalidateTags('Bad', ['t']));
  add('listKeys in a bad namespace', NS, (p) => p.listKeys('Bad'));
  add('top in a bad namespace', NS, (p) => p.top('Bad'));
  add('expireMany in a bad namespace', NS, (p) => p.expireMany('Bad', 1000));

  for (const [label, bad] of BAD_KEYS) {
    add(`get of a key: ${label}`, KEY, (p, ns) => p.get(ns, bad));
    add(`set of a key: ${label}`, KEY, (p, ns) => p.set(ns, bad, 'v'));
    add(`delete of a key: ${label}`, KEY, (p, ns) => p.delete(ns, bad));
    add(`has of a key: ${label}`, KEY, (p, ns) => p.has(ns, bad));
    add(`ttl of a key: ${label}`, KEY, (p, ns) => p.ttl(ns, bad));
    add(`expire of a key: ${label}`, KEY, (p, ns) => p.expire(ns, bad, 1000));
    add(`increment of a key: ${label}`, KEY, (p, ns) => p.increment(ns, bad));
    add(`getMany with a key: ${label}`, KEY, (p, ns) => p.getMany(ns, ['ok', bad]));
    add(`deleteMany with a key: ${label}`, KEY, (p, ns) => p.deleteMany(ns, ['ok', bad]));
    add(`setMany with a key: ${label}`, KEY, (p, ns) =>
      p.setMany(ns, [
        { key: 'ok', value: 'v' },
        { key: bad, value: 'v' },
      ]),
    );
  }
  add('a non-string key', KEY, (p, ns) => p.get(ns, loose<string>(42)));
  add('deleteByPrefix with an empty prefix', /prefix/, (p, ns) => p.deleteByPrefix(ns, ''));
  add('deleteByPrefix with a NUL in the prefix', /prefix/, (p, ns) => p.deleteByPrefix(ns, 'a\u0000'));
  add('deleteByPrefix with a lone surrogate', /prefix/, (p, ns) => p.deleteByPrefix(ns, '\ud800'));
  add('deleteByPrefix with a 1025-byte prefix', /prefix/, (p, ns) => p.deleteByPrefix(ns, 'p'.repeat(1025)));

  for (const [label, bad] of BAD_TTLS) {
    add(`set with ttl ${label}`, TTL, (p, ns) => p.set(ns, 'k', 'v', { ttl: loose<number>(bad) }));
    add(`setMany with ttl ${label}`, TTL, (p, ns) =>
      p.setMany(ns, [
        { key: 'ok', value: 'v' },
        { key: 'k', value: 'v', ttl: loose<number>(bad) },
      ]),
    );
    add(`expire with ttl ${label}`, TTL, (p, ns) => p.expire(ns, 'k', loose<number>(bad)));
    add(`increment with ttl ${label}`, TTL, (p, ns) => p.increment(ns, 'k', 1, { ttl: loose<number>(bad) }));
    add(`configure with defaultTtl ${label}`, TTL, (p, ns) => p.configure(ns, { defaultTtl: loose<number>(bad) }));
  }

  for (const [label, bad] of BAD_TTLS) {
    add(`expireMany with ttl ${label}`, TTL, (p, ns) => p.expireMany(ns, loose<number>(bad)));
  }
  add('expireMany without a ttl', TTL, (p, ns) => p.expireMany(ns, loose<number | null>(undefined)));
  add('expireMany with both prefix and tags', /prefix|tags/, (p, ns) =>
    p.expireMany(ns, 1000, loose<{ prefix: string }>({ prefix: 'a', tags: ['t'] })),
  );
  add('expireMany with an empty prefix', /prefix/, (p, ns) => p.expireMany(ns, 1000, { prefix: '' }));
  add('expireMany with a NUL in the prefix', /prefix/, (p, ns) => p.expireMany(ns, 1000, { prefix: 'a\u0000' }));
  add('expireMany with no tags', TAGS, (p, ns) => p.expireMany(ns, 1000, { tags: [] }));
  for (const [label, bad] of [
    ['limit 0', 0],
    ['limit 10001', 10_001],
    ['a fractional limit', 2.5],
    ['a string limit', '10'],
  ] as const) {
    add(`listKeys with ${label}`, /limit/, (p, ns) => p.listKeys(ns, { limit: loose<number>(bad) }));
  }
  for (const [label, bad] of [
    ['limit 0', 0],
    ['limit 1001', 1001],
  ] as const) {
    add(`top with ${label}`, /limit/, (p, ns) => p.top(ns, { limit: bad }));
  }
  for (const bad of ['', '***', 'AA', '_w', 'a', 42]) {
    add(`listKeys with cursor ${JSON.stringify(bad)}`, /cursor/, (p, ns) => p.listKeys(ns, { cursor: loose<string>(bad) }));
  }
  add('listKeys with a NUL in the prefix', /prefix/, (p, ns) => p.listKeys(ns, { prefix: 'a\u0000' }));
  add('listKeys with a non-string prefix', /prefix/, (p, ns) => p.listKeys(ns, { prefix: loose<string>(5) }));

  // expire has no default ttl: a missing one is refused, not taken as "no expiry".
  add('expire without a ttl', TTL, (p, ns) => p.expire(ns, 'k', loose<number | null>(undefined)));

  for (const [label, bad] of BAD_TAGS) {
    add(`set with ${label}`, TAGS, (p, ns) => p.set(ns, 'k', 'v', { tags: loose<string[]>(bad) }));
    add(`invalidateTags with ${label}`, TAGS, (p, ns) => p.invalidateTags(ns, loose<string[]>(bad)));
    add(`expireMany with ${label}`, TAGS, (p, ns) => p.expireMany(ns, 1000, { tags: loose<string[]>(bad) }));
  }

  for (const [label, bad] of BAD_CONDITIONS) {
    add(`set with condition ${label}`, /condition/, (p, ns) => p.set(ns, 'k', 'v', { condition: loose<WriteCondition>(bad) }));
    add(`setMany with condition ${label}`, /condition/, (p, ns) =>
      p.setMany(ns, [
        { key: 'ok', value: 'v' },
        { key: 'k', value: 'v', condition: loose<WriteCondition>(bad) },
      ]),
    );
  }

  const badContentTypes: [string, unknown][] = [
    ['empty', ''],
    ['with a newline', 'text/plain\nx: y'],
    ['non-ASCII', 'text/plâin'],
    ['256 characters', `text/${'x'.repeat(251)}`],
  ];
  for (const [label, bad] of badContentTypes) {
    add(`set with content type ${label}`, /content/i, (p, ns) => p.set(ns, 'k', 'v', loose<SetOptions>({ contentType: bad })));
  }

  add('set with a non-bytes value', /value/, (p, ns) => p.set(ns, 'k', loose<string>(42)));
  add('set with a lone-surrogate string value', /value/, (p, ns) => p.set(ns, 'k', '\ud800'));
  add('increment by a fraction', /by/, (p, ns) => p.increment(ns, 'k', 1.5));
  add('increment by NaN', /by/, (p, ns) => p.increment(ns, 'k', Number.NaN));
  add('increment by an unsafe number', /by/, (p, ns) => p.increment(ns, 'k', 2 ** 60));
  add('increment by a bigint past int64', /by/, (p, ns) => p.increment(ns, 'k', 2n ** 63n));

  const badConfigs: [string, RegExp, unknown][] = [
    ['an unknown setting', /colour/, { colour: 'blue' }],
    ['maxEntries 0', /maxEntries/, { maxEntries: 0 }],
    ['maxEntries fractional', /maxEntries/, { maxEntries: 1.5 }],
    ['maxBytes negative', /maxBytes/, { maxBytes: -1 }],
    ['an unknown eviction policy', /eviction/, { eviction: 'fifo' }],
    ['durable not a boolean', /durable/, { durable: 'yes' }],
  ];
  for (const [label, field, bad] of badConfigs) {
    add(`configure with ${label}`, field, (p, ns) => p.configure(ns, loose<Partial<NamespaceConfig>>(bad)));
  }
  return calls;
}
