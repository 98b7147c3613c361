// A minimal DER reader and writer: just enough ASN.1 to read CSRs and certificates and to encode leaf
// certificates on the CA's hot path. Generic ASN.1 libraries cost ~1 ms per certificate; this costs microseconds.
// Reference: ITU-T X.690 (DER), RFC 5280 (certificates), RFC 2986 (PKCS #10).

/** One tag-length-value element: `tag` is the identifier octet, `value` the contents, `raw` the whole element. */
export interface Tlv {
  tag: number;
  value: Buffer;
  raw: Buffer;
}

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag number n: constructed ([n] EXPLICIT / IMPLICIT SEQUENCE) or primitive ([n] IMPLICIT). */
export const ctx = (n: number, constructed: boolean): number => 0x80 | (constructed ? 0x20 : 0) | n;

export class DerError extends Error {
  constructor(message: string) {
    super(`malformed DER: ${message}`);
    this.name = 'DerError';
  }
}

/** Reads the element starting at `offset`. Multi-byte tags are not used by X.509 and are refused. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new DerError('truncated element header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let len = buf[offset + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('unsupported length encoding');
    if (offset + 2 + n > buf.length) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new DerError('element runs past the end of its container');
  return { tag, value: buf.subarray(offset + header, end), raw: buf.subarray(offset, end) };
}

/** The children of a constructed element, in order. */
export function children(tlv: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let off = 0;
  while (off < tlv.value.length) {
    const c = readTlv(tlv.value, off);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

/** Reads exactly one element that fills `buf` and checks its tag. */
export function readOne(buf: Buffer, tag: number, what: string): Tlv {
  const t = readTlv(buf, 0);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  if (t.raw.length !== buf.length) throw new DerError(`${what}: trailing bytes`);
  return t;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`${what} is missing`);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one element from its tag and contents (the contents may be several concatenated elements). */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = contents.length === 1 ? contents[0]! : Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(Tag.sequence, ...items);

/** Encodes a dotted object identifier, e.g. `2.5.29.17`. */
export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let n = Math.floor(p / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(Tag.oid, Buffer.from(bytes));
}

/** Decodes the contents of an OBJECT IDENTIFIER element into dotted form. */
export function oidToString(value: Buffer): string {
  if (value.length === 0) throw new DerError('empty OID');
  const first = value[0]!;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let n = 0;
  for (let i = 1; i < value.length; i++) {
    const b = value[i]!;
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

/** A positive INTEGER from unsigned big-endian bytes (adds the sign octet when needed). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return b[0]! & 0x80 ? tlv(Tag.integer, Buffer.from([0]), b) : tlv(Tag.integer, b);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** UTCTime for years 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5), to whole seconds. */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest = `${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(Tag.utcTime, Buffer.from(`${pad2(y % 100)}${rest}`, 'ascii'));
  return tlv(Tag.generalizedTime, Buffer.from(`${y}${rest}`, 'ascii'));
}

/** BIT STRING with no unused bits, wrapping `bytes`. */
export const bitString = (bytes: Buffer): Buffer => tlv(Tag.bitString, Buffer.from([0]), bytes);

export const octetString = (bytes: Buffer): Buffer => tlv(Tag.octetString, bytes);
