// Envoy's tls_inspector: read the server name (SNI) and the offered ALPN protocols out of a TLS ClientHello that is
// still in the socket's first bytes, without consuming them (the caller replays them to the TLS terminator or the
// upstream). RFC 8446 §4.1.2 (ClientHello), RFC 6066 §3 (server_name), RFC 7301 §3.1 (ALPN).

export type HelloPeek =
  /** Not enough bytes yet: read more and call again with everything read so far. */
  | { kind: 'more' }
  /** The first byte is not a TLS handshake record: plaintext (Envoy's transport protocol `raw_buffer`). */
  | { kind: 'plaintext' }
  /** Starts like TLS but is not a well-formed ClientHello. */
  | { kind: 'invalid'; reason: string }
  | { kind: 'hello'; sni: string | undefined; alpn: string[] };

/** Largest ClientHello we wait for (Envoy's tls_inspector caps its buffer at 64 KiB; real hellos are < 2 KiB). */
export const maxHelloBytes = 64 * 1024;

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

/** Inspect the bytes a client sent first. */
export function peekClientHello(buf: Buffer): HelloPeek {
  if (buf.length === 0) return { kind: 'more' };
  if (buf[0] !== HANDSHAKE) return { kind: 'plaintext' };
  // The handshake message may span several records: join their fragments.
  const fragments: Buffer[] = [];
  let off = 0;
  let have = 0;
  let need = -1;
  while (need < 0 || have < need) {
    if (buf.length < off + 5) return buf.length >= maxHelloBytes ? { kind: 'invalid', reason: 'ClientHello too large' } : { kind: 'more' };
    if (buf[off] !== HANDSHAKE) return { kind: 'invalid', reason: 'ClientHello interrupted by a non-handshake record' };
    if (buf[off + 1] !== 3) return { kind: 'invalid', reason: 'not a TLS record version' };
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || len > 16384 + 2048) return { kind: 'invalid', reason: 'bad TLS record length' };
    if (buf.length < off + 5 + len) return off + 5 + len > maxHelloBytes ? { kind: 'invalid', reason: 'ClientHello too large' } : { kind: 'more' };
    fragments.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0) {
      const first = fragments.length === 1 && fragments[0]!.length >= 4 ? fragments[0]! : Buffer.concat(fragments);
      if (first.length < 4) continue;
      if (first[0] !== CLIENT_HELLO) return { kind: 'invalid', reason: 'first handshake message is not a ClientHello' };
      need = 4 + first.readUIntBE(1, 3);
      if (need > maxHelloBytes) return { kind: 'invalid', reason: 'ClientHello too large' };
    }
  }
  const msg = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
  return parseHelloBody(msg.subarray(4, need));
}

function parseHelloBody(b: Buffer): HelloPeek {
  const bad = (reason: string): HelloPeek => ({ kind: 'invalid', reason });
  let p = 2 + 32; // client_version, random
  if (b.length < p + 1) return bad('truncated ClientHello');
  p += 1 + b[p]!; // session_id
  if (b.length < p + 2) return bad('truncated ClientHello');
  p += 2 + b.readUInt16BE(p); // cipher_suites
  if (b.length < p + 1) return bad('truncated ClientHello');
  p += 1 + b[p]!; // compression_methods
  if (p === b.length) return { kind: 'hello', sni: undefined, alpn: [] }; // no extensions (SSLv3-style hello)
  if (b.length < p + 2) return bad('truncated ClientHello');
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return bad('extensions overrun the ClientHello');
  p += 2;
  let sni: string | undefined;
  let alpn: string[] = [];
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const data = b.subarray(p + 4, p + 4 + len);
    if (p + 4 + len > end) return bad('extension overruns the ClientHello');
    if (type === EXT_SERVER_NAME) sni = serverName(data);
    else if (type === EXT_ALPN) alpn = protocols(data);
    p += 4 + len;
  }
  return { kind: 'hello', sni, alpn };
}

/** The host_name entry of a server_name extension, lower-cased (DNS names compare case-insensitively). */
function serverName(d: Buffer): string | undefined {
  if (d.length < 2) return undefined;
  const end = Math.min(d.length, 2 + d.readUInt16BE(0));
  let p = 2;
  while (p + 3 <= end) {
    const type = d[p]!;
    const len = d.readUInt16BE(p + 1);
    if (p + 3 + len > end) return undefined;
    if (type === 0) return d.toString('latin1', p + 3, p + 3 + len).toLowerCase();
    p += 3 + len;
  }
  return undefined;
}

function protocols(d: Buffer): string[] {
  if (d.length < 2) return [];
  const end = Math.min(d.length, 2 + d.readUInt16BE(0));
  const out: string[] = [];
  let p = 2;
  while (p < end) {
    const len = d[p]!;
    if (p + 1 + len > end) break;
    out.push(d.toString('latin1', p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}
