// IP addresses, CIDR blocks, ports and Istio's protocol names, parsed strictly (as Go's net/netip does: no leading
// zeros in IPv4 octets or prefix lengths, no short IPv4 forms like `1.2.3`), so Weft accepts exactly what Istio does.
import { err, ok, type Result } from '../../../../core/result.ts';
import type { Reporter } from '../report.ts';

export type IpFamily = 4 | 6;

const DEC_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** True for a dotted-quad IPv4 address (`10.0.0.1`); leading zeros (`010.0.0.1`) are rejected as Go's netip does. */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => DEC_OCTET.test(p) && Number(p) <= 255);
}

/** True for an IPv6 address, optionally with an embedded IPv4 tail (`::ffff:1.2.3.4`) and, if allowed, a `%zone`. */
export function isIPv6(s: string, allowZone = true): boolean {
  let addr = s;
  const pct = addr.indexOf('%');
  if (pct >= 0) {
    if (!allowZone || pct === addr.length - 1) return false;
    addr = addr.slice(0, pct);
  }
  if (!addr.includes(':')) return false;
  const lastColon = addr.lastIndexOf(':');
  const tail = addr.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail occupies the last two 16-bit groups.
    if (!isIPv4(tail)) return false;
    addr = `${addr.slice(0, lastColon + 1)}0:0`;
  }
  const halves = addr.split('::');
  if (halves.length > 2) return false;
  const hex = /^[0-9a-fA-F]{1,4}$/;
  const groups = (h: string): number | undefined => {
    if (h === '') return 0;
    const g = h.split(':');
    return g.every((x) => hex.test(x)) ? g.length : undefined;
  };
  if (halves.length === 1) return groups(addr) === 8;
  const a = groups(halves[0] ?? '');
  const b = groups(halves[1] ?? '');
  // `::` stands for at least one zero group.
  return a !== undefined && b !== undefined && a + b <= 7;
}

/** The family of an IP address literal, or undefined when it is not one. IPv6 zones are accepted (`fe80::1%eth0`). */
export function ipFamily(s: string): IpFamily | undefined {
  if (isIPv4(s)) return 4;
  if (isIPv6(s)) return 6;
  return undefined;
}

export const isIP = (s: string): boolean => ipFamily(s) !== undefined;

export interface Cidr {
  address: string;
  family: IpFamily;
  /** Prefix length in bits (0–32 for IPv4, 0–128 for IPv6). */
  bits: number;
}

/** Parse `addr/bits` strictly (Go's netip.ParsePrefix): no zone, decimal bits without leading zeros, within range. */
export function parseCidr(s: string): Result<Cidr, string> {
  const slash = s.indexOf('/');
  if (slash < 0 || s.indexOf('/', slash + 1) >= 0) return err(`${JSON.stringify(s)} is not a CIDR block: expected ADDRESS/BITS such as 10.0.0.0/8`);
  const address = s.slice(0, slash);
  const bitsText = s.slice(slash + 1);
  const family = isIPv4(address) ? 4 : isIPv6(address, false) ? 6 : undefined;
  if (family === undefined) return err(`${JSON.stringify(s)} is not a valid CIDR block: ${JSON.stringify(address)} is not an IP address`);
  const max = family === 4 ? 32 : 128;
  if (!/^(?:0|[1-9][0-9]*)$/.test(bitsText) || Number(bitsText) > max) {
    return err(`${JSON.stringify(s)} is not a valid CIDR block: the prefix length must be a whole number from 0 to ${max}`);
  }
  return ok({ address, family, bits: Number(bitsText) });
}

/** Istio's "IP subnet": a CIDR block when the text has one `/`, otherwise a plain IP address. */
export function validateIpOrCidr(s: string): string | undefined {
  if (s.includes('/')) {
    const c = parseCidr(s);
    return c.ok ? undefined : c.error;
  }
  return isIP(s) ? undefined : `${JSON.stringify(s)} is not a valid IP address or CIDR block`;
}

/** Report unless `value` is an IP address (no CIDR). */
export function checkIp(r: Reporter, value: unknown): boolean {
  if (typeof value === 'string' && isIP(value)) return true;
  r.error(`${JSON.stringify(value)} is not a valid IP address (expected e.g. 10.0.0.1 or 2001:db8::1)`);
  return false;
}

/** Report unless `value` is an IP address or a CIDR block. */
export function checkIpOrCidr(r: Reporter, value: unknown): boolean {
  const msg = typeof value === 'string' ? validateIpOrCidr(value) : `${JSON.stringify(value)} is not a valid IP address or CIDR block`;
  if (msg === undefined) return true;
  r.error(msg);
  return false;
}

/** True for a TCP/UDP port number 1–65535. */
export const isValidPort = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;

/** Report unless `value` is a port number 1–65535. */
export function checkPort(r: Reporter, value: unknown): boolean {
  if (isValidPort(value)) return true;
  r.error(`port number ${JSON.stringify(value)} must be in the range 1..65535`);
  return false;
}

/** Istio's protocols, as it spells them. */
export type Protocol = 'GRPC' | 'GRPC-Web' | 'HTTP' | 'HTTP_PROXY' | 'HTTP2' | 'HTTPS' | 'TCP' | 'TLS' | 'UDP' | 'Mongo' | 'Redis' | 'MySQL';

const PROTOCOLS: ReadonlyMap<string, Protocol> = new Map([
  ['grpc', 'GRPC'],
  ['grpc-web', 'GRPC-Web'],
  ['http', 'HTTP'],
  ['http_proxy', 'HTTP_PROXY'],
  ['http2', 'HTTP2'],
  ['https', 'HTTPS'],
  ['tcp', 'TCP'],
  ['tls', 'TLS'],
  ['udp', 'UDP'],
  ['mongo', 'Mongo'],
  ['redis', 'Redis'],
  ['mysql', 'MySQL'],
]);

/** Parse a protocol name case-insensitively (`http`, `HTTP`, `grpc-web` …); undefined when Istio does not know it. */
export const parseProtocol = (s: string): Protocol | undefined => PROTOCOLS.get(s.toLowerCase());

export const protocolNames = (): string[] => [...PROTOCOLS.values()];

/** Protocols Istio treats as HTTP (routable with http routes). */
export const isHttpProtocol = (p: Protocol): boolean => p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-Web' || p === 'HTTP_PROXY';

/** Protocols that carry TLS end to end (routable with tls routes). */
export const isTlsProtocol = (p: Protocol): boolean => p === 'HTTPS' || p === 'TLS';

/**
 * Istio's protocol selection for a Kubernetes-style service port: `appProtocol` wins when set, otherwise the port name
 * prefix before the first `-` (`http-web` → HTTP, `grpc` → GRPC). Undefined means "unknown: sniff the protocol".
 */
export function protocolFromPort(name: string | undefined, appProtocol?: string): Protocol | undefined {
  if (appProtocol !== undefined && appProtocol !== '') {
    const lower = appProtocol.toLowerCase();
    // Kubernetes standard appProtocol values (KEP-3726) map onto Istio's protocols.
    if (lower === 'kubernetes.io/h2c') return 'HTTP2';
    if (lower === 'kubernetes.io/ws' || lower === 'kubernetes.io/wss') return 'HTTP';
    const p = parseProtocol(appProtocol);
    if (p !== undefined) return p;
  }
  if (name === undefined || name === '') return undefined;
  const lower = name.toLowerCase();
  // grpc-web must be tried before the generic prefix split, which would read it as grpc.
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return 'GRPC-Web';
  const dash = lower.indexOf('-');
  return parseProtocol(dash < 0 ? lower : lower.slice(0, dash));
}

/** Report unless `value` is a protocol Istio knows; the empty string means "detect" and is accepted. */
export function checkProtocol(r: Reporter, value: unknown): Protocol | undefined {
  if (value === '' || value === undefined) return undefined;
  const p = typeof value === 'string' ? parseProtocol(value) : undefined;
  if (p === undefined) r.error(`unsupported protocol ${JSON.stringify(value)}: use one of ${protocolNames().join(', ')}`);
  return p;
}

/** The `unix://` prefix of Unix domain socket addresses in Istio config. */
export const UNIX_ADDRESS_PREFIX = 'unix://';

/** A Unix socket path after `unix://`: an absolute file path (not ending in `/`), or an abstract socket `@name`. */
export function validateUnixAddress(path: string): string | undefined {
  if (path === '') return 'unix address must not be empty: use unix:///path/to/socket';
  if (path.startsWith('@')) return undefined;
  if (!path.startsWith('/') || path.endsWith('/')) return `${JSON.stringify(path)} is not an absolute path to a file: use unix:///path/to/socket`;
  return undefined;
}
