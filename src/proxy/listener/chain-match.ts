// Filter chain selection as Envoy does it (FilterChainMatch): the criteria are applied in a fixed order —
// destination port, destination IP (longest prefix), server name (exact, then the longest `*.suffix` wildcard),
// transport protocol, application protocols (ALPN), source IP (longest prefix), source port — and at each step the
// chains that name the connection's value win over the chains that leave the field empty; a step with neither
// ends the search (the default chain, if any). No backtracking, as in Envoy.
import { isIP } from 'node:net';
import { type Errors, type Raw, arr, at, obj, str, wrappedNum } from '../config/raw.ts';

export interface CidrRange {
  /** Family bits (32 or 128) and the address as a number, for prefix comparisons. */
  bits: 32 | 128;
  value: bigint;
  prefixLen: number;
}

/** The filter_chain_match fields this proxy evaluates; empty lists and undefined mean "any". */
export interface ChainMatch {
  destinationPort: number | undefined;
  prefixRanges: CidrRange[];
  /** Lower-cased; `*.example.com` entries are wildcards. */
  serverNames: string[];
  /** `tls` (a ClientHello was seen) or `raw_buffer`. */
  transportProtocol: string | undefined;
  applicationProtocols: string[];
  sourcePrefixRanges: CidrRange[];
  sourcePorts: number[];
}

/** What is known about a new connection when its chain is chosen. */
export interface ConnectionFacts {
  /** Local (destination) port and address. */
  port: number;
  address: string | undefined;
  /** SNI from the ClientHello, lower-cased. */
  sni: string | undefined;
  transport: 'tls' | 'raw_buffer';
  /** ALPN protocols the client offered. */
  alpn: readonly string[];
  sourceAddress: string | undefined;
  sourcePort: number | undefined;
}

export const anyChain: ChainMatch = { destinationPort: undefined, prefixRanges: [], serverNames: [], transportProtocol: undefined, applicationProtocols: [], sourcePrefixRanges: [], sourcePorts: [] };

export function compileChainMatch(m: Raw, path: string, errors: Errors): ChainMatch {
  const ranges = (field: string): CidrRange[] =>
    arr(m[field]).flatMap((r, i) => {
      const c = parseCidr(obj(r) ?? {});
      if (!c) errors.add(at(at(path, field), i), 'needs an IPv4 or IPv6 address_prefix and a prefix_len within its size');
      return c ? [c] : [];
    });
  const unsupported = ['direct_source_prefix_ranges', 'source_type'].filter((f) => (f === 'source_type' ? str(m[f]) !== undefined && str(m[f]) !== 'ANY' : arr(m[f]).length > 0));
  for (const f of unsupported) errors.add(at(path, f), `filter_chain_match.${f} is not supported by this proxy`);
  const port = wrappedNum(m['destination_port']);
  return {
    destinationPort: port === 0 ? undefined : port,
    prefixRanges: ranges('prefix_ranges'),
    serverNames: arr(m['server_names']).filter((s): s is string => typeof s === 'string' && s !== '').map((s) => s.toLowerCase()),
    transportProtocol: str(m['transport_protocol']) || undefined,
    applicationProtocols: arr(m['application_protocols']).filter((s): s is string => typeof s === 'string'),
    sourcePrefixRanges: ranges('source_prefix_ranges'),
    sourcePorts: arr(m['source_ports']).map((p) => wrappedNum(p)).filter((p): p is number => p !== undefined),
  };
}

function parseCidr(r: Raw): CidrRange | undefined {
  const ip = str(r['address_prefix']);
  const value = ip ? ipValue(ip) : undefined;
  if (!value) return undefined;
  const len = wrappedNum(r['prefix_len']) ?? value.bits;
  if (len < 0 || len > value.bits) return undefined;
  return { bits: value.bits, value: value.value, prefixLen: len };
}

/** An address as a number; IPv4-mapped IPv6 (`::ffff:1.2.3.4`, as dual-stack sockets report) counts as IPv4. */
export function ipValue(ip: string): { bits: 32 | 128; value: bigint } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) ip = mapped[1]!;
  const fam = isIP(ip);
  if (fam === 4) return { bits: 32, value: ip.split('.').reduce((n, o) => (n << 8n) | BigInt(Number(o)), 0n) };
  if (fam !== 6) return undefined;
  const [head, tail] = ip.includes('::') ? (ip.split('::') as [string, string]) : [ip, undefined];
  const groups = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => {
          if (g.includes('.')) {
            const v = ipValue(g)!.value;
            return [Number(v >> 16n), Number(v & 0xffffn)];
          }
          return [parseInt(g, 16)];
        });
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return { bits: 128, value: all.reduce((n, g) => (n << 16n) | BigInt(g), 0n) };
}

/** The longest prefix among `ranges` that contains `ip`, or -1. */
function longestPrefix(ranges: readonly CidrRange[], ip: { bits: 32 | 128; value: bigint } | undefined): number {
  let best = -1;
  if (!ip) return best;
  for (const r of ranges) {
    if (r.bits !== ip.bits || r.prefixLen <= best) continue;
    const shift = BigInt(r.bits - r.prefixLen);
    if (r.prefixLen === 0 || ip.value >> shift === r.value >> shift) best = r.prefixLen;
  }
  return best;
}

/** How well a server name list matches an SNI: 2^16 + length for exact, the suffix length for a wildcard, -1 for none. */
function serverNameScore(names: readonly string[], sni: string | undefined): number {
  if (sni === undefined) return -1;
  let best = -1;
  for (const n of names) {
    if (n === sni) return 1 << 16;
    if (n.startsWith('*.') && sni.length > n.length - 1 && sni.endsWith(n.slice(1)) && n.length > best) best = n.length;
  }
  return best;
}

/**
 * One step: among `chains`, those whose field has the best score for this connection (score ≥ 0); if none, those
 * whose field is empty ("any"). `score` returns undefined for an empty field.
 */
function narrow<C extends { match: ChainMatch }>(chains: readonly C[], score: (m: ChainMatch) => number | undefined): C[] {
  let best = -1;
  let winners: C[] = [];
  const empty: C[] = [];
  for (const c of chains) {
    const s = score(c.match);
    if (s === undefined) empty.push(c);
    else if (s > best) {
      best = s;
      winners = [c];
    } else if (s === best && s >= 0) winners.push(c);
  }
  return best >= 0 ? winners : empty;
}

/** Envoy's filter chain selection; undefined when no chain matches (then the listener's default chain applies). */
export function matchChain<C extends { match: ChainMatch }>(chains: readonly C[], f: ConnectionFacts): C | undefined {
  let c: readonly C[] = chains;
  const dst = f.address ? ipValue(f.address) : undefined;
  const src = f.sourceAddress ? ipValue(f.sourceAddress) : undefined;
  c = narrow(c, (m) => (m.destinationPort === undefined ? undefined : m.destinationPort === f.port ? 0 : -1));
  // An unknown address (a caller that only knows the port) skips the IP steps rather than failing them.
  if (dst) c = narrow(c, (m) => (m.prefixRanges.length === 0 ? undefined : longestPrefix(m.prefixRanges, dst)));
  c = narrow(c, (m) => (m.serverNames.length === 0 ? undefined : serverNameScore(m.serverNames, f.sni)));
  c = narrow(c, (m) => (m.transportProtocol === undefined ? undefined : m.transportProtocol === f.transport ? 0 : -1));
  c = narrow(c, (m) => (m.applicationProtocols.length === 0 ? undefined : m.applicationProtocols.some((p) => f.alpn.includes(p)) ? 0 : -1));
  if (src) c = narrow(c, (m) => (m.sourcePrefixRanges.length === 0 ? undefined : longestPrefix(m.sourcePrefixRanges, src)));
  c = narrow(c, (m) => (m.sourcePorts.length === 0 ? undefined : f.sourcePort !== undefined && m.sourcePorts.includes(f.sourcePort) ? 0 : -1));
  return c[0];
}
