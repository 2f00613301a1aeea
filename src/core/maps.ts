/** A Map or WeakMap, as far as getOrCreate needs it. */
interface KeyedStore<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): unknown;
}

/** The value at `key`; when absent, `make()` is stored there and returned. */
export function getOrCreate<K, V>(map: KeyedStore<K, V>, key: K, make: () => V): V {
  const existing = map.get(key);
  if (existing !== undefined) return existing;
  const created = make();
  map.set(key, created);
  return created;
}
