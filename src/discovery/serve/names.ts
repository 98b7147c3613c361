// Interned, immutable, sorted name lists for subscriptions. Thousands of proxies subscribe to the same names;
// interning gives them one shared list (memory) with an identity (cheap cache keys and memoized diffs).
// Entries are weakly held: a list nobody subscribes to any more is collected.

export interface Names {
  /** Unique per distinct list while it lives. */
  readonly id: number;
  /** Sorted, without duplicates. */
  readonly list: readonly string[];
  readonly set: ReadonlySet<string>;
}

const table = new Map<string, WeakRef<Names>>();
const cleanup = new FinalizationRegistry<string>((key) => {
  if (table.get(key)?.deref() === undefined) table.delete(key);
});
let nextId = 0;

/** The shared Names for a list of names (order and duplicates do not matter). */
export function internNames(names: Iterable<string>): Names {
  const list = [...new Set(names)].sort();
  const key = list.join('\n');
  const hit = table.get(key)?.deref();
  if (hit !== undefined) return hit;
  const n: Names = { id: ++nextId, list, set: new Set(list) };
  table.set(key, new WeakRef(n));
  cleanup.register(n, key);
  return n;
}

export const noNames: Names = internNames([]);
