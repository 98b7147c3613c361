// Durations in Istio config: Go's time.ParseDuration syntax (`300ms`, `1h2m3.5s`), then Istio's webhook rules
// (at least 1 ms, whole milliseconds). Values are parsed to exact nanoseconds as a bigint (Go's int64 range), so a
// sub-millisecond remainder is never lost to floating point; helpers convert to milliseconds for consumers.
// The protobuf JSON form of google.protobuf.Duration (`"1.5s"`, seconds with a fraction) is a subset of Go syntax.
import { err, ok, type Result } from '../../../../core/result.ts';
import type { Reporter } from '../report.ts';

/** Nanoseconds per unit, as Go's time package defines them (`µs` is U+00B5, `μs` is U+03BC; Go accepts both). */
const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n],
  ['μs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

/** Largest magnitude of a Go time.Duration (int64 nanoseconds). */
const MAX_NS = (1n << 63n) - 1n;

export const NS_PER_MS = 1_000_000n;
export const NS_PER_S = 1_000_000_000n;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Parse a Go duration string (`[-+]?([0-9]*(\.[0-9]*)?unit)+`, or `0`) to nanoseconds.
 * Same acceptance as Go's time.ParseDuration: every number needs a unit (except a lone `0`), `.5s` and `1.s` are
 * valid, `.s` is not, values beyond int64 nanoseconds are rejected. The error is a short reason without the field path.
 */
export function parseGoDuration(text: string): Result<bigint, string> {
  const bad = (why: string): Result<never, string> => err(`invalid duration ${JSON.stringify(text)}: ${why}`);
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  if (s === '0') return ok(0n);
  if (s === '') return bad('expected a number followed by a unit (ns, us, ms, s, m, h), e.g. "5s"');
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    const start = i;
    while (isDigit(s[i])) i++;
    const whole = s.slice(start, i);
    let frac = '';
    if (s[i] === '.') {
      i++;
      const fs = i;
      while (isDigit(s[i])) i++;
      frac = s.slice(fs, i);
    }
    if (whole === '' && frac === '') return bad('expected a number before the unit');
    const us = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unitText = s.slice(us, i);
    if (unitText === '') return bad('missing unit; use one of ns, us, ms, s, m, h (e.g. "10s")');
    const unit = UNITS.get(unitText);
    if (unit === undefined) return bad(`unknown unit ${JSON.stringify(unitText)}; use one of ns, us, ms, s, m, h`);
    // Exact arithmetic: fraction digits beyond nanosecond resolution are truncated, as Go does.
    let value = BigInt(whole === '' ? '0' : whole) * unit;
    if (frac !== '') {
      const scale = 10n ** BigInt(frac.length);
      value += (BigInt(frac) * unit) / scale;
    }
    total += value;
    if (total > MAX_NS + (negative ? 1n : 0n)) return bad('out of range (the maximum is about 2562047h)');
  }
  return ok(negative ? -total : total);
}

/** Format nanoseconds the way Go's Duration.String() does (`1h2m3.5s`, `1.5ms`, `0s`). */
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  let v = ns < 0n ? -ns : ns;
  const fracOf = (n: bigint, digits: number): string => {
    const s = n.toString().padStart(digits, '0').replace(/0+$/, '');
    return s === '' ? '' : `.${s}`;
  };
  if (v < NS_PER_S) {
    if (v < 1_000n) return `${sign}${v}ns`;
    if (v < NS_PER_MS) return `${sign}${v / 1_000n}${fracOf(v % 1_000n, 3)}µs`;
    return `${sign}${v / NS_PER_MS}${fracOf(v % NS_PER_MS, 6)}ms`;
  }
  let out = '';
  const h = v / 3_600_000_000_000n;
  v %= 3_600_000_000_000n;
  const m = v / 60_000_000_000n;
  v %= 60_000_000_000n;
  if (h > 0n) out += `${h}h`;
  if (h > 0n || m > 0n) out += `${m}m`;
  out += `${v / NS_PER_S}${fracOf(v % NS_PER_S, 9)}s`;
  return sign + out;
}

/** Nanoseconds to milliseconds as a number (exact for whole-millisecond durations up to ~285 million years). */
export const nanosToMillis = (ns: bigint): number => Number(ns / NS_PER_MS) + Number(ns % NS_PER_MS) / 1e6;

/** Nanoseconds to seconds as a number, e.g. for Envoy's protobuf Duration `seconds` + `nanos`. */
export const nanosToSeconds = (ns: bigint): number => Number(ns / NS_PER_S) + Number(ns % NS_PER_S) / 1e9;

/** Split nanoseconds into a protobuf Duration (`seconds`, `nanos` with the same sign), as Envoy's API takes it. */
export function toProtoDuration(ns: bigint): { seconds: number; nanos: number } {
  return { seconds: Number(ns / NS_PER_S), nanos: Number(ns % NS_PER_S) };
}

export interface DurationRules {
  /** Smallest accepted value in nanoseconds; Istio's default for config durations is 1 ms. */
  min?: bigint;
  /** Largest accepted value in nanoseconds, inclusive. No limit by default. */
  max?: bigint;
  /** Accept exactly `0s` even though it is below `min` (a few fields use 0 to mean "disabled"). Default false. */
  allowZero?: boolean;
  /** Require whole milliseconds, as Istio does for every config duration. Default true. */
  wholeMillis?: boolean;
}

/**
 * Check a config duration field with Istio's rules and report at `r`'s path. Returns the value in nanoseconds when it
 * is valid, otherwise undefined. A value that is not a string is reported as such (the schema layer normally
 * catches it first).
 */
export function checkDuration(r: Reporter, value: unknown, rules: DurationRules = {}): bigint | undefined {
  if (typeof value !== 'string') {
    r.error(`must be a duration string in Go syntax such as "5s" or "300ms", not ${typeof value}`);
    return undefined;
  }
  const parsed = parseGoDuration(value);
  if (!parsed.ok) {
    r.error(`${parsed.error}; durations use Go syntax such as "5s", "300ms" or "1h30m"`);
    return undefined;
  }
  const ns = parsed.value;
  if (ns === 0n && rules.allowZero === true) return ns;
  const min = rules.min ?? NS_PER_MS;
  if (ns < min) {
    r.error(`duration ${JSON.stringify(value)} is too short: it must be at least ${formatGoDuration(min)}`);
    return undefined;
  }
  if (rules.max !== undefined && ns > rules.max) {
    r.error(`duration ${JSON.stringify(value)} is too long: it must be at most ${formatGoDuration(rules.max)}`);
    return undefined;
  }
  if ((rules.wholeMillis ?? true) && ns % NS_PER_MS !== 0n) {
    r.error(`duration ${JSON.stringify(value)} has sub-millisecond precision, which Istio does not support: use whole milliseconds (e.g. "${formatGoDuration(ns - (ns % NS_PER_MS) + NS_PER_MS)}")`);
    return undefined;
  }
  return ns;
}

/**
 * Convenience for consumers of validated config (translator, proxy): a Go duration string to milliseconds, or
 * undefined when the value is absent or not a valid duration. Sub-millisecond parts are kept as a fraction.
 */
export function parseDurationMillis(text: unknown): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const p = parseGoDuration(text);
  return p.ok ? nanosToMillis(p.value) : undefined;
}
