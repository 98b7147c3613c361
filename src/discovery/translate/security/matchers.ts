// Envoy matcher objects (type.matcher.v3 StringMatcher, ValueMatcher, MetadataMatcher; route.v3 HeaderMatcher) in the
// shapes Istio's authorization builder emits for its `*`-wildcard values: `*` alone = present / `.+`, `*x` = suffix,
// `x*` = prefix, otherwise exact. Plain objects with proto field names, ready for encodeAny().
import type { Json } from '../common.ts';

/** RE2 `regexp.QuoteMeta`: escape every character that is special in RE2 syntax. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export const regexMatcher = (regex: string): Json => ({ safe_regex: { regex } });
export const exactMatcher = (v: string, ignoreCase = false): Json => (ignoreCase ? { exact: v, ignore_case: true } : { exact: v });
export const prefixMatcher = (v: string, ignoreCase = false): Json => (ignoreCase ? { prefix: v, ignore_case: true } : { prefix: v });
export const suffixMatcher = (v: string, ignoreCase = false): Json => (ignoreCase ? { suffix: v, ignore_case: true } : { suffix: v });

/** A string matcher for an Istio wildcard value, with an optional literal prefix (`spiffe://` for principals). */
export function stringMatcher(v: string, prefix = ''): Json {
  if (v === '*') return regexMatcher('.+');
  if (v.startsWith('*')) return prefix === '' ? suffixMatcher(v.slice(1)) : regexMatcher(`${prefix}.*${quoteMeta(v.slice(1))}`);
  if (v.endsWith('*')) return prefixMatcher(prefix + v.slice(0, -1));
  return exactMatcher(prefix + v);
}

/** A header matcher: `*` = present; hosts compare case-insensitively. */
export function headerMatcher(name: string, v: string, ignoreCase = false): Json {
  if (v === '*') return { name, present_match: true };
  if (v.startsWith('*')) return { name, string_match: suffixMatcher(v.slice(1), ignoreCase) };
  if (v.endsWith('*')) return { name, string_match: prefixMatcher(v.slice(0, -1), ignoreCase) };
  return { name, string_match: exactMatcher(v, ignoreCase) };
}

/** Several value matchers ORed; one stays itself. */
export function orValue(matchers: Json[]): Json {
  return matchers.length === 1 ? matchers[0]! : { or_match: { value_matchers: matchers } };
}

export function stringOrValue(values: readonly string[]): Json {
  return orValue(values.map((v) => ({ string_match: stringMatcher(v) })));
}

/** A metadata matcher on `filter` at the key path. */
export function metadataMatcher(filter: string, keys: readonly string[], value: Json): Json {
  return { filter, path: keys.map((key) => ({ key })), value };
}

/** JWT claims: a claim may be a string or a list of strings, so Istio matches either (list one_of, or the value itself). */
export function claimMatcher(filter: string, keys: readonly string[], value: Json): Json {
  return metadataMatcher(filter, keys, { or_match: { value_matchers: [{ list_match: { one_of: value } }, value] } });
}

/** Envoy CidrRange from `10.0.0.0/8`, `1.2.3.4` or an IPv6 form. */
export function cidrRange(value: string): Json {
  const slash = value.indexOf('/');
  const address = slash < 0 ? value : value.slice(0, slash);
  const len = slash < 0 ? (address.includes(':') ? 128 : 32) : Number(value.slice(slash + 1));
  return { address_prefix: address, prefix_len: { value: len } };
}
