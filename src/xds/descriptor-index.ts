// Random access into the compact xDS descriptor (xds-descriptor.gen.json, written by descriptorText() in
// descriptor-build.ts): `{"types":{` then one line per type, enum or service, `"full.Name":{...},`. The text is
// indexed by name once (offsets only) and an entry is parsed when a process first needs it, so a process holds the
// 170 KB text and the JSON of the few types it uses, not all ~500.

/** One entry as descriptor-build.ts writes it: a message (`fields`), an enum (`values`) or a service (`methods`). */
export interface FieldJson {
  /** A scalar type name (`string`, `uint32` …) or the absolute name of a message or enum (`.envoy.config.core.v3.Address`). */
  type: string;
  id: number;
  rule?: 'repeated';
  /** Present on map fields: the key's scalar type (`type` is then the value's). */
  keyType?: string;
  options?: { packed?: boolean; proto3_optional?: boolean };
}
export interface TypeJson {
  fields?: Record<string, FieldJson>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  methods?: Record<string, { requestType: string; responseType: string; requestStream?: boolean; responseStream?: boolean }>;
}

/** The compact descriptor's entries by full name (no leading dot). */
export class DescriptorIndex {
  private readonly text: string;
  /** Full name → offset of its line in `text`. */
  private readonly offsets = new Map<string, number>();

  /** `text`: the contents of xds-descriptor.gen.json. */
  constructor(text: string) {
    this.text = text;
    for (let start = 0; start < text.length;) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (text.charCodeAt(start) === 0x22 /* " */) {
        const close = text.indexOf('":', start + 1);
        if (close > start && close < end) this.offsets.set(text.slice(start + 1, close), start);
      }
      start = end + 1;
    }
    if (this.offsets.size === 0) throw new Error('the xDS descriptor holds no types (regenerate: node scripts/gen-xds-descriptor.ts)');
  }

  /** How many types, enums and services the descriptor holds. */
  get size(): number {
    return this.offsets.size;
  }

  has(name: string): boolean {
    return this.offsets.has(name);
  }

  /** Every name the descriptor holds, sorted. */
  names(): string[] {
    return [...this.offsets.keys()];
  }

  /** The entry of `name` (full name, no leading dot), parsed afresh; undefined when the descriptor does not hold it. */
  entry(name: string): TypeJson | undefined {
    const start = this.offsets.get(name);
    if (start === undefined) return undefined;
    let end = this.text.indexOf('\n', start);
    if (end < 0) end = this.text.length;
    if (this.text.charCodeAt(end - 1) === 0x2c /* , */) end--;
    return JSON.parse(this.text.slice(start + name.length + 3, end)) as TypeJson;
  }
}

/** Full name (no leading dot) from a full name, a `.`-prefixed name or a type URL. */
export function fullName(nameOrUrl: string): string {
  const name = nameOrUrl.slice(nameOrUrl.lastIndexOf('/') + 1);
  return name.charCodeAt(0) === 0x2e /* . */ ? name.slice(1) : name;
}
