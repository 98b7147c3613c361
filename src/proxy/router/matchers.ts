// Compiled matchers for Envoy's StringMatcher, HeaderMatcher and QueryParameterMatcher. Compiled once per config
// version; regexes use RE2 semantics (re2js) and must match the whole value, as Envoy's safe_regex does.
import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import { type Errors, type Raw, at, bool, obj, str } from '../config/raw.ts';

let re2: typeof RE2JS | undefined;
/** re2js, loaded when the first regex arrives (most proxies never get one): ~0.6 MB a proxy does not carry otherwise. */
export function loadRe2(): typeof RE2JS {
  return (re2 ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS);
}

/** A compiled predicate over a string value. */
export type StringTest = (value: string) => boolean;

export function compileRegex(raw: unknown, path: string, errors: Errors): RE2JS | undefined {
  const o = obj(raw);
  const regex = str(o?.['regex']);
  if (regex === undefined) {
    errors.add(at(path, 'regex'), 'safe_regex needs a regex');
    return undefined;
  }
  try {
    return loadRe2().compile(regex);
  } catch (e) {
    errors.add(at(path, 'regex'), `invalid RE2 regex "${regex}": ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** envoy.type.matcher.v3.StringMatcher. */
export function compileStringMatcher(raw: unknown, path: string, errors: Errors): StringTest | undefined {
  const o = obj(raw);
  if (!o) {
    errors.add(path, 'string matcher must be an object');
    return undefined;
  }
  const ignoreCase = bool(o['ignore_case']) === true;
  const norm = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  if (typeof o['exact'] === 'string') {
    const e = norm(o['exact']);
    return ignoreCase ? (v) => v.toLowerCase() === e : (v) => v === e;
  }
  if (typeof o['prefix'] === 'string') {
    const p = norm(o['prefix']);
    return (v) => norm(v).startsWith(p);
  }
  if (typeof o['suffix'] === 'string') {
    const s = norm(o['suffix']);
    return (v) => norm(v).endsWith(s);
  }
  if (typeof o['contains'] === 'string') {
    const c = norm(o['contains']);
    return (v) => norm(v).includes(c);
  }
  if (o['safe_regex'] !== undefined) {
    const re = compileRegex(o['safe_regex'], at(path, 'safe_regex'), errors);
    return re ? (v) => re.matches(v) : undefined;
  }
  errors.add(path, 'string matcher needs one of exact, prefix, suffix, contains, safe_regex');
  return undefined;
}

/** A header matcher over the request's flat header list (names lower-case). */
export interface HeaderTest {
  /** Lower-cased header name; `:authority`, `:path`, `:method`, `:scheme` are pseudo-headers. */
  name: string;
  test: (value: string | undefined) => boolean;
}

/** envoy.config.route.v3.HeaderMatcher. Multiple values of one header are joined with ',' as Envoy does. */
export function compileHeaderMatcher(raw: Raw, path: string, errors: Errors): HeaderTest | undefined {
  const name = str(raw['name'])?.toLowerCase();
  if (!name) {
    errors.add(at(path, 'name'), 'header matcher needs a name');
    return undefined;
  }
  const invert = raw['invert_match'] === true;
  const missingAsEmpty = raw['treat_missing_header_as_empty'] === true;
  let t: ((v: string) => boolean) | undefined;
  let presence: boolean | undefined;
  if (raw['present_match'] !== undefined) presence = raw['present_match'] === true;
  else if (raw['string_match'] !== undefined) t = compileStringMatcher(raw['string_match'], at(path, 'string_match'), errors);
  else if (typeof raw['exact_match'] === 'string') {
    const e = raw['exact_match'];
    t = (v) => v === e;
  } else if (typeof raw['prefix_match'] === 'string') {
    const p = raw['prefix_match'];
    t = (v) => v.startsWith(p);
  } else if (typeof raw['suffix_match'] === 'string') {
    const s = raw['suffix_match'];
    t = (v) => v.endsWith(s);
  } else if (typeof raw['contains_match'] === 'string') {
    const c = raw['contains_match'];
    t = (v) => v.includes(c);
  } else if (raw['safe_regex_match'] !== undefined) {
    const re = compileRegex(raw['safe_regex_match'], at(path, 'safe_regex_match'), errors);
    if (re) t = (v) => re.matches(v);
  } else if (raw['range_match'] !== undefined) {
    const r = obj(raw['range_match']);
    const lo = Number(r?.['start'] ?? 0);
    const hi = Number(r?.['end'] ?? 0);
    t = (v) => /^-?\d+$/.test(v) && Number(v) >= lo && Number(v) < hi;
  } else presence = true; // no match specifier: the header must be present
  if (errors.any) return undefined;
  const base = presence !== undefined
    ? (v: string | undefined) => (v !== undefined) === presence
    : (v: string | undefined) => {
        if (v === undefined) return missingAsEmpty ? t!('') : false;
        return t!(v);
      };
  // Envoy: invert_match flips the result, except that a missing header never matches an inverted value matcher.
  if (!invert) return { name, test: base };
  if (presence !== undefined) return { name, test: (v) => !base(v) };
  return { name, test: (v) => (v === undefined && !missingAsEmpty ? false : !base(v)) };
}

/** A query parameter matcher over the parsed query (first value of each name). */
export interface QueryTest {
  name: string;
  test: (value: string | undefined) => boolean;
}

/** envoy.config.route.v3.QueryParameterMatcher. */
export function compileQueryMatcher(raw: Raw, path: string, errors: Errors): QueryTest | undefined {
  const name = str(raw['name']);
  if (!name) {
    errors.add(at(path, 'name'), 'query parameter matcher needs a name');
    return undefined;
  }
  if (raw['present_match'] !== undefined) {
    const want = raw['present_match'] === true;
    return { name, test: (v) => (v !== undefined) === want };
  }
  if (raw['string_match'] !== undefined) {
    const t = compileStringMatcher(raw['string_match'], at(path, 'string_match'), errors);
    return t ? { name, test: (v) => v !== undefined && t(v) } : undefined;
  }
  return { name, test: (v) => v !== undefined };
}
