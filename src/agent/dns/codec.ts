// The little of the DNS wire format (RFC 1035) the DNS proxy needs: read a query's header and first question,
// write an answer with A/AAAA records or an error code. Everything else is forwarded upstream as raw bytes.

import { isIPv4, isIPv6 } from 'node:net';

/** Record types the proxy answers itself. */
export const RecordType = { A: 1, AAAA: 28 } as const;
/** Response codes (RFC 1035 §4.1.1). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeValue = (typeof Rcode)[keyof typeof Rcode];

const CLASS_IN = 1;
const HEADER_LEN = 12;

/** A parsed query: the header fields a response echoes, and the (first) question. */
export interface DnsQuery {
  readonly id: number;
  readonly opcode: number;
  /** Recursion desired: echoed in the response. */
  readonly rd: boolean;
  /** The question, name lower-cased without the trailing dot; undefined when the message has no question. */
  readonly question: { readonly name: string; readonly type: number; readonly class: number } | undefined;
  /** Raw bytes of the question section (echoed in the response). */
  readonly questionBytes: Buffer;
  /** True when the message is a response (QR set): the proxy ignores those. */
  readonly isResponse: boolean;
}

/** Parse a DNS message's header and first question; undefined when it is too short or malformed. */
export function parseQuery(msg: Buffer): DnsQuery | undefined {
  if (msg.length < HEADER_LEN) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const qdcount = msg.readUInt16BE(4);
  const base = { id, opcode: (flags >> 11) & 0xf, rd: (flags & 0x0100) !== 0, isResponse: (flags & 0x8000) !== 0 };
  if (qdcount === 0) return { ...base, question: undefined, questionBytes: Buffer.alloc(0) };
  const name = readName(msg, HEADER_LEN);
  if (!name || name.end + 4 > msg.length) return undefined;
  const type = msg.readUInt16BE(name.end);
  const klass = msg.readUInt16BE(name.end + 2);
  return { ...base, question: { name: name.name, type, class: klass }, questionBytes: msg.subarray(HEADER_LEN, name.end + 4) };
}

/** Read a (possibly compressed) domain name at `offset`: the name and the offset just past it. */
export function readName(msg: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let pos = offset;
  let end: number | undefined;
  let jumps = 0;
  let length = 0;
  for (;;) {
    if (pos >= msg.length) return undefined;
    const len = msg[pos] ?? 0;
    if (len === 0) {
      end ??= pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length || ++jumps > 16) return undefined; // a pointer loop
      end ??= pos + 2;
      pos = ((len & 0x3f) << 8) | (msg[pos + 1] ?? 0);
      continue;
    }
    if ((len & 0xc0) !== 0 || pos + 1 + len > msg.length) return undefined;
    length += len + 1;
    if (length > 255) return undefined;
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len).toLowerCase());
    pos += 1 + len;
  }
  return { name: labels.join('.'), end };
}

/** Encode a domain name as labels (no compression). Throws RangeError on a label over 63 bytes. */
export function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const chunks: Buffer[] = [];
  for (const label of parts) {
    const b = Buffer.from(label, 'latin1');
    if (b.length > 63) throw new RangeError(`DNS label longer than 63 bytes: ${label}`);
    chunks.push(Buffer.from([b.length]), b);
  }
  chunks.push(Buffer.from([0]));
  return Buffer.concat(chunks);
}

/** One answer record; the owner name is the question's (written as a pointer to it). */
export interface AnswerRecord {
  readonly type: typeof RecordType.A | typeof RecordType.AAAA;
  readonly ttl: number;
  readonly address: string;
}

/**
 * A response to `query`: the question echoed, the answers (all owned by the question name), the given rcode,
 * AA set (the proxy is authoritative for the mesh names it answers), RA set (it forwards everything else).
 */
export function encodeResponse(query: DnsQuery, rcode: RcodeValue, answers: readonly AnswerRecord[] = []): Buffer {
  const header = Buffer.alloc(HEADER_LEN);
  header.writeUInt16BE(query.id, 0);
  const flags = 0x8000 | ((query.opcode & 0xf) << 11) | (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN ? 0x0400 : 0) | (query.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  const hasQuestion = query.questionBytes.length > 0;
  header.writeUInt16BE(hasQuestion ? 1 : 0, 4);
  header.writeUInt16BE(hasQuestion ? answers.length : 0, 6);
  const records = hasQuestion ? answers.map(encodeAnswer) : [];
  return Buffer.concat([header, query.questionBytes, ...records]);
}

function encodeAnswer(a: AnswerRecord): Buffer {
  const rdata = a.type === RecordType.A ? ipv4Bytes(a.address) : ipv6Bytes(a.address);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc000 | HEADER_LEN, 0); // pointer to the question's name
  rr.writeUInt16BE(a.type, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(a.ttl, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([rr, rdata]);
}

function ipv4Bytes(address: string): Buffer {
  if (!isIPv4(address)) throw new RangeError(`not an IPv4 address: ${address}`);
  return Buffer.from(address.split('.').map(Number));
}

/** IPv6 text (with ::, and an embedded IPv4 tail) to 16 bytes. */
export function ipv6Bytes(address: string): Buffer {
  if (!isIPv6(address)) throw new RangeError(`not an IPv6 address: ${address}`);
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Is this a query the proxy may answer from its table (standard query, class IN, A or AAAA)? */
export function isAddressQuery(q: DnsQuery): boolean {
  return q.opcode === 0 && q.question?.class === CLASS_IN && (q.question.type === RecordType.A || q.question.type === RecordType.AAAA);
}
