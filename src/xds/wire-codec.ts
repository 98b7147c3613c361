// Protobuf wire encoding interpreted straight from a JSON descriptor (the compact xDS descriptor, or a few message
// definitions given inline), without protobufjs: a sidecar decodes xDS resources and encodes its discovery requests
// with this, so it does not load protobufjs (~3 MB of anonymous memory) nor build its reflection objects and generated
// code (~2 MB of heap for the ~170 types a sidecar meets). The objects are exactly what protobufjs produces:
// decode() = Type.toObject(Type.decode(bytes), { enums: String, longs: Number, json: true, defaults }) — nested Anys
// expanded with `@type`, 64-bit integers as numbers, bytes as Buffer views — and encode() = Type.encode(Type.fromObject(o))
// byte for byte (src/xds/wire-codec.test.ts checks both against protobufjs).
import { fullName, type DescriptorIndex, type FieldJson, type TypeJson } from './descriptor-index.ts';

type Scalar = 'double' | 'float' | 'int32' | 'uint32' | 'sint32' | 'fixed32' | 'sfixed32' | 'int64' | 'uint64' | 'sint64' | 'fixed64' | 'sfixed64' | 'bool' | 'string' | 'bytes';
const wireTypes: Record<Scalar, number> = {
  double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5,
  int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};
const isScalar = (t: string): t is Scalar => Object.hasOwn(wireTypes, t);
const long64 = new Set<Scalar>(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
/** protobufjs's recursion limit for nested messages. */
const maxDepth = 100;
const anyName = 'google.protobuf.Any';

interface FieldInfo {
  name: string;
  id: number;
  /** The scalar type, or undefined for an enum or message field (then `ref`). */
  scalar: Scalar | undefined;
  ref: string;
  repeated: boolean;
  /** Map fields: the key's scalar type. */
  mapKey: Scalar | undefined;
  /** Repeated numeric fields are packed in proto3 unless `[packed = false]`. */
  packed: boolean;
  /** Member of a oneof (or a proto3 `optional`): no default value. */
  inOneof: boolean;
}
interface MessageInfo {
  kind: 'message';
  name: string;
  /** Sorted by field number, the order protobufjs writes and lists fields in. */
  fields: FieldInfo[];
  byId: Map<number, FieldInfo>;
}
interface EnumInfo {
  kind: 'enum';
  byName: Map<string, number>;
  /** Number → name; with aliases the last name listed wins, as in protobufjs. */
  byNumber: Map<number, string>;
  /** The first value listed (protobufjs's default). */
  first: number;
}

/** Where type definitions come from: the compact descriptor, or a plain record (names without a leading dot). */
export interface TypeSource {
  entry(name: string): TypeJson | undefined;
}

/** How decode() shapes its result, as protobufjs toObject's options of the same names. */
export interface DecodeOptions {
  /** Absent fields appear with their default (`''`, `0`, `false`, the first enum name, `[]`, `{}`, `null` for messages; not for oneof members). Default false. */
  defaults?: boolean;
  /** Expand google.protobuf.Any values whose type the source holds into `{ ...fields, '@type': url }`. Default true. */
  expandAny?: boolean;
}

class Reader {
  readonly buf: Uint8Array;
  /** The same bytes as a Buffer (no copy), for UTF-8 decoding. */
  readonly text: Buffer;
  readonly view: DataView;
  pos: number;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = 0;
  }

  private fail(n: number): never {
    throw new RangeError(`index out of range: ${this.pos} + ${n} > ${this.buf.length}`);
  }

  /** A varint's low 32 bits, unsigned (longer varints are read to their end, as protobufjs does). */
  uint32(): number {
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.buf.length) this.fail(1);
      const b = this.buf[this.pos++]!;
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value >>> 0;
    }
    throw new Error('invalid varint encoding');
  }

  /** A varint as two unsigned 32-bit halves. */
  varint64(): [number, number] {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail(1);
      const b = this.buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (i * 7);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (i * 7 - 32);
      if (b < 0x80) return [lo >>> 0, hi >>> 0];
    }
    throw new Error('invalid varint encoding');
  }

  fixed32(): number {
    if (this.pos + 4 > this.buf.length) this.fail(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  fixed64(): [number, number] {
    const lo = this.fixed32();
    return [lo, this.fixed32()];
  }

  double(): number {
    if (this.pos + 8 > this.buf.length) this.fail(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  float(): number {
    if (this.pos + 4 > this.buf.length) this.fail(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** The end offset of a length-delimited value starting here. */
  delimited(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.buf.length) this.fail(len);
    return end;
  }

  bytes(): Uint8Array {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    // protobufjs: an empty value is a new empty Buffer, any other a view of the input.
    return start === end ? Buffer.alloc(0) : this.buf.subarray(start, end);
  }

  string(): string {
    const end = this.delimited();
    const s = this.text.toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }

  skip(wireType: number, depth = 0): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        if (this.pos + 8 > this.buf.length) this.fail(8);
        this.pos += 8;
        return;
      case 2:
        this.pos = this.delimited();
        return;
      case 3:
        // A group (proto2): skipped to its end tag, nested groups bounded like nested messages.
        if (depth > maxDepth) throw new Error('max depth exceeded');
        for (let t = this.uint32(); (t & 7) !== 4; t = this.uint32()) this.skip(t & 7, depth + 1);
        return;
      case 5:
        if (this.pos + 4 > this.buf.length) this.fail(4);
        this.pos += 4;
        return;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${this.pos}`);
    }
  }
}

/** protobufjs LongBits.toNumber: a 64-bit value from its halves as a (possibly rounded) number. */
function longToNumber(lo: number, hi: number, unsigned: boolean): number {
  if (!unsigned && hi >>> 31) {
    let l = (~lo + 1) >>> 0;
    let h = ~hi >>> 0;
    if (!l) h = (h + 1) >>> 0;
    l = l >>> 0;
    return -(l + h * 4294967296);
  }
  return lo + hi * 4294967296;
}

/** protobufjs util.longToHash: how it keys a map by a 64-bit integer. */
function longToHash(lo: number, hi: number): string {
  return String.fromCharCode(lo & 255, (lo >>> 8) & 255, (lo >>> 16) & 255, lo >>> 24, hi & 255, (hi >>> 8) & 255, (hi >>> 16) & 255, hi >>> 24);
}

function readScalar(r: Reader, t: Scalar, json: boolean): unknown {
  switch (t) {
    case 'double':
    case 'float': {
      const v = t === 'double' ? r.double() : r.float();
      return json && !Number.isFinite(v) ? String(v) : v;
    }
    case 'int32':
      return r.uint32() | 0;
    case 'uint32':
      return r.uint32();
    case 'sint32': {
      const v = r.uint32();
      return (v >>> 1) ^ -(v & 1);
    }
    case 'fixed32':
      return r.fixed32();
    case 'sfixed32':
      return r.fixed32() | 0;
    case 'int64':
    case 'uint64': {
      const [lo, hi] = r.varint64();
      return longToNumber(lo, hi, t === 'uint64');
    }
    case 'sint64': {
      const [lo, hi] = r.varint64();
      const mask = -(lo & 1);
      return longToNumber((((lo >>> 1) | (hi << 31)) ^ mask) >>> 0, ((hi >>> 1) ^ mask) >>> 0, false);
    }
    case 'fixed64':
    case 'sfixed64': {
      const [lo, hi] = r.fixed64();
      return longToNumber(lo, hi, t === 'fixed64');
    }
    case 'bool':
      return r.uint32() !== 0;
    case 'string':
      return r.string();
    case 'bytes':
      return r.bytes();
  }
}

function scalarDefault(t: Scalar): unknown {
  switch (t) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'bytes':
      return Buffer.alloc(0);
    default:
      return 0;
  }
}

class Writer {
  buf = new Uint8Array(64);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.len++] = b;
  }

  uint32(v: number): void {
    let x = v >>> 0;
    while (x > 0x7f) {
      this.byte((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    this.byte(x);
  }

  varint64(v: bigint): void {
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  tag(id: number, wireType: number): void {
    this.uint32(((id << 3) | wireType) >>> 0);
  }

  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  fixed(bytes: number, set: (view: DataView) => void): void {
    this.room(bytes);
    set(new DataView(this.buf.buffer, this.len, bytes));
    this.len += bytes;
  }

  delimited(bytes: Uint8Array): void {
    this.uint32(bytes.length);
    this.raw(bytes);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** protobufjs fromObject for a 64-bit field: a number, a decimal string, a bigint or a Long-like `{ low, high }`. */
function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  if (typeof v === 'string') return BigInt(v.trim() === '' ? '0' : v.trim());
  if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) {
    const { low, high } = v as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

function writeScalar(w: Writer, t: Scalar, v: unknown): void {
  switch (t) {
    case 'double':
      w.fixed(8, (d) => d.setFloat64(0, Number(v), true));
      return;
    case 'float':
      w.fixed(4, (d) => d.setFloat32(0, Number(v), true));
      return;
    case 'int32': {
      const n = Number(v) | 0;
      if (n < 0) w.varint64(BigInt(n));
      else w.uint32(n);
      return;
    }
    case 'uint32':
      w.uint32(Number(v) >>> 0);
      return;
    case 'sint32': {
      const n = Number(v) | 0;
      w.uint32(((n << 1) ^ (n >> 31)) >>> 0);
      return;
    }
    case 'fixed32':
      w.fixed(4, (d) => d.setUint32(0, Number(v) >>> 0, true));
      return;
    case 'sfixed32':
      w.fixed(4, (d) => d.setInt32(0, Number(v) | 0, true));
      return;
    case 'int64':
    case 'uint64':
      w.varint64(toBigInt(v));
      return;
    case 'sint64': {
      const n = BigInt.asIntN(64, toBigInt(v));
      w.varint64((n << 1n) ^ (n >> 63n));
      return;
    }
    case 'fixed64':
    case 'sfixed64':
      w.fixed(8, (d) => d.setBigUint64(0, BigInt.asUintN(64, toBigInt(v)), true));
      return;
    case 'bool':
      w.uint32(v ? 1 : 0);
      return;
    case 'string':
      w.delimited(Buffer.from(String(v), 'utf8'));
      return;
    case 'bytes':
      w.delimited(typeof v === 'string' ? Buffer.from(v, 'base64') : (v as Uint8Array));
      return;
  }
}

const record = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** Encodes and decodes the messages a TypeSource defines; each definition is compiled on first use. */
export class WireCodec {
  private readonly source: TypeSource;
  private readonly compiled = new Map<string, MessageInfo | EnumInfo | null>();

  constructor(source: TypeSource | DescriptorIndex | Record<string, TypeJson>) {
    this.source = 'entry' in source && typeof source.entry === 'function' ? (source as TypeSource) : { entry: (n) => (source as Record<string, TypeJson>)[n] };
  }

  /** True if the source defines the message type (full name, `.name` or type URL). */
  hasMessage(nameOrUrl: string): boolean {
    return this.info(fullName(nameOrUrl))?.kind === 'message';
  }

  /** Decode `bytes` as the message `nameOrUrl` into a plain object (see DecodeOptions). Throws on malformed input. */
  decode(nameOrUrl: string, bytes: Uint8Array, options: DecodeOptions = {}): Record<string, unknown> {
    return this.decodeMessage(this.message(fullName(nameOrUrl)), new Reader(bytes), bytes.length, { defaults: options.defaults ?? false, expandAny: options.expandAny ?? true }, 0);
  }

  /** Encode a plain object (protobufjs fromObject form: proto field names, enums as names or numbers, Anys as `{ '@type', ... }`). */
  encode(nameOrUrl: string, obj: Record<string, unknown>): Uint8Array {
    const w = new Writer();
    this.encodeMessage(this.message(fullName(nameOrUrl)), obj, w, 0);
    return w.finish();
  }

  private info(name: string): MessageInfo | EnumInfo | null {
    const hit = this.compiled.get(name);
    if (hit !== undefined) return hit;
    const json = this.source.entry(name);
    const info = json === undefined ? null : json.values ? compileEnum(json.values) : json.fields ? compileMessage(name, json) : null;
    this.compiled.set(name, info);
    return info;
  }

  private message(name: string): MessageInfo {
    const info = this.info(name);
    if (info?.kind !== 'message') throw new Error(`no such type: ${name}`);
    return info;
  }

  private enumOf(f: FieldInfo): EnumInfo | undefined {
    const info = this.info(f.ref);
    return info?.kind === 'enum' ? info : undefined;
  }

  private decodeMessage(m: MessageInfo, r: Reader, end: number, o: Required<DecodeOptions>, depth: number): Record<string, unknown> {
    if (depth > maxDepth) throw new Error('max depth exceeded');
    const values = new Map<FieldInfo, unknown>();
    while (r.pos < end) {
      const tag = r.uint32();
      const f = m.byId.get(tag >>> 3);
      if (!f) {
        r.skip(tag & 7);
        continue;
      }
      if (f.mapKey) {
        const map = (values.get(f) as Map<string, unknown> | undefined) ?? new Map<string, unknown>();
        values.set(f, map);
        this.decodeMapEntry(f, r, map, o, depth);
      } else if (f.repeated) {
        const list = (values.get(f) as unknown[] | undefined) ?? [];
        values.set(f, list);
        const packable = f.scalar !== undefined ? wireTypes[f.scalar] !== 2 : this.enumOf(f) !== undefined;
        if (packable && (tag & 7) === 2) {
          const packedEnd = r.delimited();
          while (r.pos < packedEnd) list.push(this.readValue(f, r, o, depth));
        } else list.push(this.readValue(f, r, o, depth));
      } else values.set(f, this.readValue(f, r, o, depth));
    }
    return this.toObject(m, values, o, depth);
  }

  private decodeMapEntry(f: FieldInfo, r: Reader, map: Map<string, unknown>, o: Required<DecodeOptions>, depth: number): void {
    const entryEnd = r.delimited();
    const keyType = f.mapKey!;
    // protobufjs's defaults for an entry without a key or value (a message value stays null).
    let key = String(scalarDefault(keyType));
    const e = this.enumOf(f);
    let value: unknown = f.scalar !== undefined ? scalarDefault(f.scalar) : e ? (e.byNumber.get(0) ?? 0) : null;
    while (r.pos < entryEnd) {
      const tag = r.uint32();
      if (tag >>> 3 === 1) {
        if (long64.has(keyType)) {
          const [lo, hi] = keyType === 'fixed64' || keyType === 'sfixed64' ? r.fixed64() : r.varint64();
          key = longToHash(lo, hi);
        } else key = String(readScalar(r, keyType, false));
      } else if (tag >>> 3 === 2) value = this.readValue(f, r, o, depth);
      else r.skip(tag & 7);
    }
    map.set(key, value);
  }

  /** One value of a field, already converted (enum names, expanded Anys, nested objects). */
  private readValue(f: FieldInfo, r: Reader, o: Required<DecodeOptions>, depth: number): unknown {
    if (f.scalar !== undefined) return readScalar(r, f.scalar, true);
    const e = this.enumOf(f);
    if (e) {
      const n = r.uint32() | 0;
      return e.byNumber.get(n) ?? n;
    }
    const end = r.delimited();
    const value = f.ref === anyName ? this.decodeAny(r, end, o, depth + 1) : this.decodeMessage(this.message(f.ref), r, end, o, depth + 1);
    r.pos = end;
    return value;
  }

  /** google.protobuf.Any, expanded as protobufjs's Any wrapper does with `json: true`. */
  private decodeAny(r: Reader, end: number, o: Required<DecodeOptions>, depth: number): Record<string, unknown> {
    const plain = this.decodeMessage(this.message(anyName), r, end, o, depth);
    const url = plain['type_url'];
    if (!o.expandAny || typeof url !== 'string' || url === '') return plain;
    const slash = url.lastIndexOf('/');
    const name = url.slice(slash + 1);
    const info = this.info(name.charCodeAt(0) === 0x2e ? name.slice(1) : name);
    if (info?.kind !== 'message') return plain;
    const value = plain['value'];
    const bytes = value instanceof Uint8Array ? value : new Uint8Array(0);
    const object = this.decodeMessage(info, new Reader(bytes), bytes.length, o, depth + 1);
    object['@type'] = (slash < 0 ? 'type.googleapis.com/' : url.slice(0, slash + 1)) + info.name;
    return object;
  }

  private toObject(m: MessageInfo, values: Map<FieldInfo, unknown>, o: Required<DecodeOptions>, depth: number): Record<string, unknown> {
    const d: Record<string, unknown> = {};
    if (o.defaults) {
      // protobufjs lists repeated, then map, then other fields' defaults first (each group by field number).
      for (const f of m.fields) if (f.repeated && !f.mapKey) d[f.name] = [];
      for (const f of m.fields) if (f.mapKey) d[f.name] = {};
      for (const f of m.fields) if (!f.repeated && !f.mapKey && !f.inOneof) d[f.name] = this.defaultOf(f);
    }
    for (const f of m.fields) {
      const v = values.get(f);
      if (v === undefined) continue;
      if (f.mapKey) {
        const map = v as Map<string, unknown>;
        if (map.size === 0) continue;
        const out: Record<string, unknown> = {};
        for (const [k, x] of map) {
          if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
          else out[k] = x === null && f.scalar === undefined && !this.enumOf(f) ? this.decodeMessage(this.message(f.ref), new Reader(new Uint8Array(0)), 0, o, depth + 1) : x;
        }
        d[f.name] = out;
      } else if (f.repeated) {
        if ((v as unknown[]).length > 0) d[f.name] = v;
      } else d[f.name] = v;
    }
    return d;
  }

  private defaultOf(f: FieldInfo): unknown {
    if (f.scalar !== undefined) return scalarDefault(f.scalar);
    const e = this.enumOf(f);
    if (e) return e.byNumber.get(e.first) ?? e.first;
    return null;
  }

  private encodeMessage(m: MessageInfo, obj: Record<string, unknown>, w: Writer, depth: number): void {
    if (depth > maxDepth) throw new Error('max depth exceeded');
    for (const f of m.fields) {
      if (!Object.hasOwn(obj, f.name)) continue;
      const v = obj[f.name];
      if (v === null || v === undefined) continue;
      if (f.mapKey) {
        if (!record(v)) throw new TypeError(`${m.name}.${f.name}: object expected`);
        for (const k of Object.keys(v)) {
          const entry = new Writer();
          entry.tag(1, wireTypes[f.mapKey]);
          writeScalar(entry, f.mapKey, k); // as protobufjs: a bool key is the (always truthy) key string
          this.writeValue(f, v[k], entry, 2, depth);
          w.tag(f.id, 2);
          w.delimited(entry.finish());
        }
      } else if (f.repeated) {
        if (!Array.isArray(v)) throw new TypeError(`${m.name}.${f.name}: array expected`);
        const items = f.scalar !== undefined || !this.enumOf(f) ? v : v.map((x) => this.enumNumber(f, x, true));
        if (items.length === 0) continue;
        if (f.packed && (f.scalar === undefined ? this.enumOf(f) !== undefined : wireTypes[f.scalar] !== 2)) {
          const packed = new Writer();
          for (const x of items) {
            if (f.scalar !== undefined) writeScalar(packed, f.scalar, x);
            else writeScalar(packed, 'int32', x);
          }
          w.tag(f.id, 2);
          w.delimited(packed.finish());
        } else for (const x of items) this.writeValue(f, x, w, f.id, depth, true);
      } else this.writeValue(f, v, w, f.id, depth);
    }
  }

  /** An enum field's number from a name or number, as protobufjs fromObject converts it (undefined: not set). */
  private enumNumber(f: FieldInfo, v: unknown, repeated: boolean): number | undefined {
    const e = this.enumOf(f)!;
    if (typeof v === 'string' && e.byName.has(v)) return e.byName.get(v);
    if (typeof v === 'number') return v;
    return repeated ? e.first : undefined;
  }

  private writeValue(f: FieldInfo, v: unknown, w: Writer, id: number, depth: number, converted = false): void {
    if (f.scalar !== undefined) {
      w.tag(id, wireTypes[f.scalar]);
      writeScalar(w, f.scalar, v);
      return;
    }
    if (this.enumOf(f)) {
      const n = converted ? (v as number | undefined) : this.enumNumber(f, v, false);
      if (n === undefined) return;
      w.tag(id, 0);
      writeScalar(w, 'int32', n);
      return;
    }
    if (!record(v)) throw new TypeError(`${f.ref}: object expected`);
    const nested = new Writer();
    this.encodeNested(f.ref, v, nested, depth + 1);
    w.tag(id, 2);
    w.delimited(nested.finish());
  }

  private encodeNested(name: string, v: Record<string, unknown>, w: Writer, depth: number): void {
    const typeUrl = v['@type'];
    if (name === anyName && typeof typeUrl === 'string' && typeUrl !== '') {
      const inner = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
      const info = this.info(inner.charCodeAt(0) === 0x2e ? inner.slice(1) : inner);
      if (info?.kind === 'message') {
        const value = new Writer();
        this.encodeMessage(info, v, value, depth + 1);
        const url = typeUrl.charCodeAt(0) === 0x2e ? typeUrl.slice(1) : typeUrl;
        this.encodeMessage(this.message(anyName), { type_url: url.includes('/') ? url : `/${url}`, value: value.finish() }, w, depth);
        return;
      }
    }
    this.encodeMessage(this.message(name), v, w, depth);
  }
}

function compileEnum(values: Record<string, number>): EnumInfo {
  const byName = new Map<string, number>();
  const byNumber = new Map<number, string>();
  let first: number | undefined;
  for (const [name, n] of Object.entries(values)) {
    byName.set(name, n);
    byNumber.set(n, name);
    first ??= n;
  }
  return { kind: 'enum', byName, byNumber, first: first ?? 0 };
}

function compileMessage(name: string, json: TypeJson): MessageInfo {
  const oneofMembers = new Set(Object.values(json.oneofs ?? {}).flatMap((o) => o.oneof));
  const fields = Object.entries(json.fields ?? {}).map(([fieldName, f]: [string, FieldJson]): FieldInfo => {
    const scalar = isScalar(f.type) ? f.type : undefined;
    const mapKey = f.keyType !== undefined && isScalar(f.keyType) ? f.keyType : undefined;
    return {
      name: fieldName,
      id: f.id,
      scalar,
      ref: scalar ? '' : fullName(f.type),
      repeated: f.rule === 'repeated',
      mapKey,
      packed: f.options?.packed ?? true,
      inOneof: oneofMembers.has(fieldName) || f.options?.proto3_optional === true,
    };
  });
  fields.sort((a, b) => a.id - b.id);
  return { kind: 'message', name, fields, byId: new Map(fields.map((f) => [f.id, f])) };
}
