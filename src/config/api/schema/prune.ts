// The API server's view of an object: when it decodes a custom resource it drops `null` from every field whose
// schema is not nullable (and has no default), so `trafficPolicy:` with no value in YAML means "not set". Loaders
// use this to hand typed code the same object Istio would see. Unchanged subtrees are shared, not copied.
import { isPlainObject } from './compile.ts';
import type { SchemaNode } from './types.ts';

type Prune = (v: unknown) => unknown;

const identity: Prune = (v) => v;

/** Compile the null-dropping walk for a schema node; identity where nothing below can be dropped. */
export function compilePrune(s: SchemaNode): Prune {
  if (s.items !== undefined) {
    const item = compilePrune(s.items);
    if (item === identity) return identity;
    return (v) => {
      if (!Array.isArray(v)) return v;
      let out: unknown[] | undefined;
      v.forEach((x, i) => {
        const y = item(x);
        if (y !== x) (out ??= [...v])[i] = y;
      });
      return out ?? v;
    };
  }
  const fields = new Map<string, { prune: Prune; nullable: boolean }>();
  for (const [name, child] of Object.entries(s.properties ?? {})) fields.set(name, { prune: compilePrune(child), nullable: child.nullable === true });
  const addl = typeof s.additionalProperties === 'object' ? { prune: compilePrune(s.additionalProperties), nullable: s.additionalProperties.nullable === true } : undefined;
  if (fields.size === 0 && addl === undefined) return identity;
  return (v) => {
    if (!isPlainObject(v)) return v;
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(v)) {
      const field = fields.get(key) ?? addl;
      if (field === undefined) continue;
      const x = v[key];
      if (x === undefined || (x === null && !field.nullable)) {
        out ??= { ...v };
        delete out[key];
        continue;
      }
      const y = field.prune(x);
      if (y !== x) (out ??= { ...v })[key] = y;
    }
    return out ?? v;
  };
}
