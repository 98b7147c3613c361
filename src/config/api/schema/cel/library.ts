// The CEL environment rules run in: cel-js' standard library plus the Kubernetes CEL library functions that
// Istio's x-kubernetes-validations use (url/isURL, RE2 matches, Go durations) and the IP/CIDR helpers.
// Built once per process; rules are parsed against it once per schema node.
import { Environment } from '@marcbachmann/cel-js';
import { Duration } from '@marcbachmann/cel-js/evaluator';
import { RE2JS } from 're2js';
import { parseGoDuration } from './go-duration.ts';
import { hostname, parseRequestUri, port } from './go-url.ts';
import type { GoUrl } from './go-url.ts';
import { RENAMED } from './source.ts';

/** The CEL value of a Kubernetes `url(…)`. */
class CelUrl {
  readonly url: GoUrl;
  constructor(url: GoUrl) {
    this.url = url;
  }
}

/** The CEL value of a Kubernetes `ip(…)`. */
class CelIp {
  readonly bytes: number[];
  constructor(bytes: number[]) {
    this.bytes = bytes;
  }
  get family(): 4 | 6 {
    return this.bytes.length === 4 ? 4 : 6;
  }
}

/** The CEL value of a Kubernetes `cidr(…)`. */
class CelCidr {
  readonly ip: CelIp;
  readonly prefix: number;
  constructor(ip: CelIp, prefix: number) {
    this.ip = ip;
    this.prefix = prefix;
  }
}

const regexCache = new Map<string, RE2JS>();
function re2(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    re = RE2JS.compile(pattern);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

function toUrl(s: string): CelUrl {
  const checked = parseRequestUri(s);
  if (typeof checked === 'string') throw new Error(`URL parse error during conversion from string: ${checked}`);
  // Validity is judged on the whole string (as Kubernetes does), the parts without the #fragment.
  const hash = s.indexOf('#');
  const parts = hash < 0 ? checked : parseRequestUri(s.slice(0, hash));
  return new CelUrl(typeof parts === 'string' ? checked : parts);
}

const NANOS_PER_SECOND = 1_000_000_000n;
/** Parsed durations by text: configs repeat a handful of values ("1s", "30s") across thousands of fields. */
const durationCache = new Map<string, Duration>();
function goDuration(s: string): Duration {
  const hit = durationCache.get(s);
  if (hit !== undefined) return hit;
  const d = parseGoDuration(s);
  if (!d.ok) throw new Error(d.error);
  const value = new Duration(d.nanos / NANOS_PER_SECOND, Number(d.nanos % NANOS_PER_SECOND));
  if (durationCache.size >= 4096) durationCache.clear();
  durationCache.set(s, value);
  return value;
}

/** Strict IPv4 (no leading zeros, as Go's netip) or IPv6 without zone; undefined when not an address. */
function parseIp(s: string): CelIp | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const parts = s.split('.');
    if (parts.some((p) => (p.length > 1 && p.startsWith('0')) || Number(p) > 255)) return undefined;
    return new CelIp(parts.map(Number));
  }
  if (!s.includes(':') || s.includes('%') || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIp(text.slice(lastColon + 1));
    if (v4 === undefined || v4.family !== 4) return undefined;
    tail = v4.bytes;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string | undefined): string[] | undefined => (h === undefined || h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || rest === undefined) return undefined;
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...Array<string>(8 - total).fill('0'), ...rest];
  if (all.some((g) => !/^[0-9A-Fa-f]{1,4}$/.test(g))) return undefined;
  const bytes = all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  // Kubernetes' ip()/isIP() refuse IPv4-mapped IPv6 addresses (::ffff:a.b.c.d).
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return undefined;
  return new CelIp(bytes);
}

function parseCidr(s: string): CelCidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9]\d{0,2})$/.test(bits) || Number(bits) > ip.bytes.length * 8) return undefined;
  return new CelCidr(ip, Number(bits));
}

function formatIp(ip: CelIp): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  // Compress the longest run of two or more zero groups, as RFC 5952.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function cidrContains(c: CelCidr, ip: CelIp): boolean {
  if (ip.family !== c.ip.family) return false;
  for (let bit = 0; bit < c.prefix; bit++) {
    const mask = 0x80 >> bit % 8;
    const byte = Math.floor(bit / 8);
    if (((c.ip.bytes[byte] ?? 0) & mask) !== ((ip.bytes[byte] ?? 0) & mask)) return false;
  }
  return true;
}

function must<T>(v: T | undefined, what: string, s: string): T {
  if (v === undefined) throw new Error(`${what} parse error during conversion from string: ${JSON.stringify(s)}`);
  return v;
}

let env: Environment | undefined;

/** The shared CEL environment with `self` (and `oldSelf`) declared as dynamic values. */
export function celEnvironment(): Environment {
  if (env !== undefined) return env;
  env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
    .registerVariable('self', 'dyn')
    .registerVariable('oldSelf', 'dyn')
    .registerType('net.URL', CelUrl)
    .registerType('net.IP', CelIp)
    .registerType('net.CIDR', CelCidr)
    .registerFunction(`string.${RENAMED.matches}(string): bool`, (s: string, p: string) => re2(p).test(s))
    .registerFunction(`${RENAMED.duration}(string): google.protobuf.Duration`, goDuration)
    .registerFunction('isURL(string): bool', (s: string) => typeof parseRequestUri(s) !== 'string')
    .registerFunction('url(string): net.URL', toUrl)
    .registerFunction('net.URL.getScheme(): string', (u: CelUrl) => u.url.scheme)
    .registerFunction('net.URL.getHost(): string', (u: CelUrl) => u.url.host)
    .registerFunction('net.URL.getHostname(): string', (u: CelUrl) => hostname(u.url))
    .registerFunction('net.URL.getPort(): string', (u: CelUrl) => port(u.url))
    .registerFunction('net.URL.getEscapedPath(): string', (u: CelUrl) => u.url.path)
    .registerFunction('isIP(string): bool', (s: string) => parseIp(s) !== undefined)
    .registerFunction('ip(string): net.IP', (s: string) => must(parseIp(s), 'IP Address', s))
    .registerFunction('net.IP.family(): int', (ip: CelIp) => BigInt(ip.family))
    .registerFunction('net.IP.string(): string', formatIp)
    .registerFunction('net.IP.isLoopback(): bool', (ip: CelIp) =>
      ip.family === 4 ? ip.bytes[0] === 127 : ip.bytes.every((b, i) => b === (i === 15 ? 1 : 0)),
    )
    .registerFunction('isCIDR(string): bool', (s: string) => parseCidr(s) !== undefined)
    .registerFunction('cidr(string): net.CIDR', (s: string) => must(parseCidr(s), 'network address', s))
    .registerFunction('net.CIDR.prefixLength(): int', (c: CelCidr) => BigInt(c.prefix))
    .registerFunction('net.CIDR.ip(): net.IP', (c: CelCidr) => c.ip)
    .registerFunction('net.CIDR.containsIP(net.IP): bool', cidrContains)
    .registerFunction('net.CIDR.containsIP(string): bool', (c: CelCidr, s: string) => cidrContains(c, must(parseIp(s), 'IP Address', s)));
  return env;
}
