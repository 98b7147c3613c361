// The xDS types on demand: a protobufjs Root that starts empty and gains a message type, enum or service the first time
// something looks it up, read from the compact descriptor xds-descriptor.gen.json. protobufjs looks a type's field types
// up (by their absolute names, as the descriptor writes them) only when that type is first encoded or decoded, so a
// process builds the types it actually uses and the types their fields name, not the ~500 the descriptor holds.
// google.protobuf.Any looks its payload type up by name while converting (the `@type` of a typed_config): that lookup
// adds the named type first, so nested Anys expand exactly as with every type loaded.
import type protobuf from 'protobufjs';
import { fullName, type DescriptorIndex, type TypeJson } from './descriptor-index.ts';

/** The protobufjs module, passed in: a process that never needs protobufjs (a sidecar) does not load it. */
export type Protobuf = typeof protobuf;

type Lookup = protobuf.Namespace['lookup'];
/** protobufjs (≥ 7.5) resolves edition features (packed encoding, presence) only from resolveAll(), which would also
 * resolve every field of every type present; this is the step of it that a type added on its own needs. */
interface FeatureResolution {
  _resolveFeaturesRecursive?: (edition: string) => unknown;
}
function parentName(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(0, dot);
}

type Codec = 'encode' | 'decode' | 'verify' | 'fromObject' | 'toObject';
type Generated = (...args: unknown[]) => unknown;

/**
 * protobufjs generates all five functions of a type (encode, decode, verify, fromObject, toObject) the first time any
 * of them is called, ~10 KB of JavaScript source per type that stays in memory; a sidecar only decodes and converts
 * most types (toObject), the control plane only converts and encodes them (fromObject), and neither verifies. Here each
 * function is generated, by protobufjs's own generators, the first time it is called. Types with a protobufjs wrapper
 * (google.protobuf.Any) keep protobufjs's own set-up, which installs the wrapper.
 */
function generateOnFirstCall(pb: Protobuf, type: protobuf.Type): void {
  if (pb.wrappers[type.fullName]) return;
  let types: (protobuf.Type | protobuf.Enum | null)[] | undefined;
  const ctx = (): { types: (protobuf.Type | protobuf.Enum | null)[]; util: typeof protobuf.util } => {
    types ??= type.fieldsArray.map((f) => f.resolve().resolvedType);
    return { types, util: pb.util };
  };
  const generators: Record<Codec, () => Generated> = {
    encode: () => pb.encoder(type)({ ...ctx(), Writer: pb.Writer }) as Generated,
    decode: () => pb.decoder(type)({ ...ctx(), Reader: pb.Reader }) as Generated,
    verify: () => pb.verifier(type)(ctx()) as Generated,
    fromObject: () => pb.converter.fromObject(type)(ctx()) as Generated,
    toObject: () => pb.converter.toObject(type)(ctx()) as Generated,
  };
  const codecs = type as unknown as Record<Codec, Generated>;
  for (const name of Object.keys(generators) as Codec[]) {
    codecs[name] = function generateThenCall(this: unknown, ...args: unknown[]): unknown {
      const fn = generators[name]();
      codecs[name] = fn;
      return fn.apply(type, args);
    };
  }
}

/** Wrap `target.lookup` so that it first adds the looked-up name (a full name, a path array or a type URL). */
function loadingLookup(target: protobuf.Namespace, ensure: (name: string) => void): void {
  const lookup: Lookup = target.lookup;
  target.lookup = function lookupLoading(this: protobuf.Namespace, path: string | string[], ...rest: unknown[]) {
    if (typeof path === 'string') ensure(path);
    else if (Array.isArray(path)) ensure(path.join('.'));
    return (lookup as (...a: unknown[]) => protobuf.ReflectionObject | null).call(this, path, ...rest);
  } as Lookup;
}

/** A Root filled from the compact descriptor as types are asked for. */
export class LazyXdsRoot {
  readonly root: protobuf.Root;
  private readonly pb: Protobuf;
  private readonly index: DescriptorIndex;
  private readonly added = new Set<string>();

  /** `index`: the compact descriptor; `pb`: the protobufjs module. */
  constructor(index: DescriptorIndex, pb: Protobuf) {
    this.index = index;
    this.pb = pb;
    this.root = new pb.Root();
    // Absolute lookups (field and method types, lookupType() on the root) all end at the root's lookup.
    loadingLookup(this.root, (name) => void this.ensure(name));
  }

  /** How many types, enums and services the descriptor holds. */
  get size(): number {
    return this.index.size;
  }

  /** How many of them are in the root so far. */
  get loaded(): number {
    return this.added.size;
  }

  /**
   * Make sure `name` (a full name, with or without the leading dot, or a type URL) is in the root, inside the message
   * it is nested in; the types its fields name follow when protobufjs resolves them. Returns false, changing nothing,
   * when the descriptor does not hold it.
   */
  ensure(name: string): boolean {
    const full = fullName(name);
    if (this.added.has(full)) return true;
    const json: TypeJson | undefined = this.index.entry(full);
    if (!json) return false;
    const pb = this.pb;
    const parent = parentName(full);
    const nestedIn = this.index.has(parent);
    if (nestedIn) this.ensure(parent);
    const simple = full.slice(parent.length === 0 ? 0 : parent.length + 1);
    const obj = json.fields !== undefined ? pb.Type.fromJSON(simple, json as protobuf.IType)
      : json.values !== undefined ? pb.Enum.fromJSON(simple, json as protobuf.IEnum)
        : pb.Service.fromJSON(simple, json as unknown as protobuf.IService);
    const ns = parent === '' ? this.root : nestedIn ? this.root.lookup(parent) : this.root.define(parent);
    if (!(ns instanceof pb.Namespace)) throw new Error(`xDS descriptor: ${parent} is not a namespace`);
    ns.add(obj);
    this.added.add(full);
    const features = obj as unknown as FeatureResolution;
    if (typeof features._resolveFeaturesRecursive !== 'function') throw new Error('protobufjs has no _resolveFeaturesRecursive: src/xds/lazy-root.ts needs updating for this protobufjs version');
    // The edition of a top-level type is set when it is added ("proto3", as Root.fromJSON does); a nested one inherits.
    features._resolveFeaturesRecursive('proto3');
    if (obj instanceof pb.Type) generateOnFirstCall(pb, obj);
    // Any's converters call `this.lookup(name of the @type)`, a relative lookup that does not pass the root's.
    if (full === 'google.protobuf.Any') loadingLookup(obj as protobuf.Type, (n) => void this.ensure(n));
    return true;
  }
}
