// A small key-value seam over IndexedDB (idb-keyval). The download and checkpoint code talk to
// this, not to idb-keyval, so the same code runs on an in-memory map when IndexedDB is missing
// (private windows, Node tests) or when the user turns the cache off.

import { createStore, delMany, getMany, keys as idbKeys, setMany } from 'idb-keyval';

export type Key = (string | number)[];

export interface KeyValueStore {
  get<T>(key: Key): Promise<T | undefined>;
  getMany<T>(keys: Key[]): Promise<(T | undefined)[]>;
  /** One transaction: after a crash either every entry landed or none did. */
  setMany(entries: [Key, unknown][]): Promise<void>;
  delMany(keys: Key[]): Promise<void>;
  keys(): Promise<Key[]>;
}

export function idbStore(dbName: string, storeName: string): KeyValueStore {
  const store = createStore(dbName, storeName);
  return {
    get: async <T>(key: Key) => (await getMany<T>([key], store))[0],
    getMany: <T>(keys: Key[]) => getMany<T>(keys, store),
    setMany: (entries) => setMany(entries, store),
    delMany: (keys) => delMany(keys, store),
    keys: () => idbKeys<Key>(store),
  };
}

/** Values are structured-cloned in and out, as IndexedDB does, so callers cannot alias stored state. */
export function memoryStore(): KeyValueStore {
  const map = new Map<string, { key: Key; value: unknown }>();
  const id = (k: Key) => JSON.stringify(k);
  const clone = <T>(v: T): T => (v instanceof Blob ? v : structuredClone(v));
  return {
    get: async <T>(key: Key) => clone(map.get(id(key))?.value as T | undefined),
    getMany: async <T>(keys: Key[]) => keys.map((k) => clone(map.get(id(k))?.value as T | undefined)),
    setMany: async (entries) => {
      const cloned = entries.map(([k, v]) => [k, clone(v)] as const);
      for (const [k, v] of cloned) map.set(id(k), { key: [...k], value: v });
    },
    delMany: async (keys) => {
      for (const k of keys) map.delete(id(k));
    },
    keys: async () => [...map.values()].map((e) => [...e.key]),
  };
}

/** True for keys that start with the given parts (e.g. every chunk of one file). */
export function hasPrefix(key: Key, prefix: Key): boolean {
  return prefix.every((p, i) => key[i] === p);
}

export function isQuotaError(e: unknown): boolean {
  return e instanceof DOMException && (e.name === 'QuotaExceededError' || e.name === 'NS_ERROR_DOM_QUOTA_REACHED');
}
