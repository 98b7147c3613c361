// Host names as Istio validates them: DNS-1123 labels (letters of either case, digits, `-`), a wildcard only as the
// whole first label (`*.example.com`, `*`), names up to 255 characters, and the `namespace/host` forms that
// Gateway servers and Sidecar egress listeners use (`ns/host`, `*/host`, `./host`, `~/host`).
// Functions named validate* return an error message or undefined; check* report at a Reporter.
import type { Reporter } from '../report.ts';
import { isIP } from './net.ts';

export const DNS1123_LABEL_MAX = 63;
export const DNS_NAME_MAX = 255;

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const DNS1123_LABEL_LOWER = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
/** `*`, or a label optionally prefixed with `*` or `*-` (Istio's "wildcard DNS-1123 label"). */
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

/** A DNS-1123 label as Istio checks it (case-insensitive, 1–63 characters). */
export const isDns1123Label = (s: string): boolean => s.length <= DNS1123_LABEL_MAX && DNS1123_LABEL.test(s);

/** A DNS-1123 label as Kubernetes checks names and namespaces (lower case only). */
export const isDns1123LabelLower = (s: string): boolean => s.length <= DNS1123_LABEL_MAX && DNS1123_LABEL_LOWER.test(s);

/** A Kubernetes DNS-1123 subdomain (lower-case labels joined by dots, at most 253 characters). */
export const isDns1123Subdomain = (s: string): boolean => s.length > 0 && s.length <= 253 && s.split('.').every(isDns1123LabelLower);

const q = (s: string): string => JSON.stringify(s);

function checkNamePreconditions(name: string): string | undefined {
  if (name.length === 0) return 'empty host name is not allowed';
  if (name.length > DNS_NAME_MAX) return `host name ${q(name.slice(0, 40))}… is too long (at most ${DNS_NAME_MAX} characters)`;
  return undefined;
}

/** Labels after the first: each a DNS-1123 label, the top-level label not all digits, a trailing dot allowed. */
function validateLabels(whole: string, rest: string): string | undefined {
  const parts = rest.split('.');
  const tld = parts[parts.length - 1] ?? '';
  // Go's strconv.Atoi decides "all digits": it also accepts a sign and refuses values beyond int64.
  if (/^[+-]?[0-9]+$/.test(tld) && BigInt(tld) <= 9223372036854775807n && BigInt(tld) >= -9223372036854775808n) return `host ${q(whole)} is not valid: its top-level label ${q(tld)} cannot be all digits`;
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i] ?? '';
    if (i === parts.length - 1 && label === '') return undefined;
    if (label.includes('*')) return `host ${q(whole)} is not valid: a wildcard "*" is only allowed as the whole first label (e.g. "*.example.com")`;
    if (!isDns1123Label(label)) {
      return `host ${q(whole)} is not valid: label ${q(label)} must be 1-63 letters, digits or '-', starting and ending with a letter or digit`;
    }
  }
  return undefined;
}

/** A fully qualified (or short) DNS name without wildcards, e.g. `reviews.default.svc.cluster.local`. */
export function validateFqdn(name: string): string | undefined {
  return checkNamePreconditions(name) ?? validateLabels(name, name);
}

/** A DNS name that may start with a wildcard label (`*.example.com`, `*`, or Istio's `*foo.example.com`). */
export function validateWildcardDomain(name: string): string | undefined {
  const pre = checkNamePreconditions(name);
  if (pre !== undefined) return pre;
  const dot = name.indexOf('.');
  const first = dot < 0 ? name : name.slice(0, dot);
  if (!(first.length <= DNS1123_LABEL_MAX && WILDCARD_LABEL.test(first))) {
    return `host ${q(name)} is not valid: label ${q(first)} is not a DNS-1123 label (a wildcard is only allowed as a leading "*" label, e.g. "*.example.com")`;
  }
  return dot < 0 ? undefined : validateLabels(name, name.slice(dot + 1));
}

/** Istio forbids partial wildcards such as `*foo.com` or `foo*.com` where only `*` or `*.suffix` make sense. */
export function validatePartialWildcard(name: string): string | undefined {
  if (name.includes('*') && name !== '*' && !name.startsWith('*.')) {
    return `partial wildcard ${q(name)} is not allowed: use "*" alone or a leading "*." label (e.g. "*.example.com")`;
  }
  return undefined;
}

/** True when the host starts with a wildcard (`*`, `*.foo`). */
export const isWildcardHost = (h: string): boolean => h.startsWith('*');

/** Istio's host.Name.Matches: true when the two (possibly wildcard) hosts share at least one concrete name. */
export function hostsOverlap(a: string, b: string): boolean {
  const aw = isWildcardHost(a);
  const bw = isWildcardHost(b);
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** Istio's host.Name.SubsetOf: every name matched by `a` is matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
  const aw = isWildcardHost(a);
  const bw = isWildcardHost(b);
  if (aw) return bw && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

/** Where a `namespace/host` entry is used: the rules for the namespace part and for IP hosts differ. */
export type NamespacedHostUse = 'gateway' | 'sidecar';

/** The host part of a Gateway server host or Sidecar egress host. */
function validateNamespacedHostPart(host: string, use: NamespacedHostUse): string[] {
  const out: string[] = [];
  if (host !== '*' && !host.includes('.')) {
    out.push(`short name ${q(host)} is not allowed here: use a fully qualified name such as "${host}.default.svc.cluster.local", or "*"`);
  }
  const wild = validateWildcardDomain(host);
  // Gateways also accept an IP address as the host.
  if (wild !== undefined && !(use === 'gateway' && isIP(host))) out.push(wild);
  const partial = validatePartialWildcard(host);
  if (partial !== undefined) out.push(partial);
  return out;
}

/**
 * A Gateway server host (`host`, `ns/host`, `./host`, or `*` as the namespace) or a Sidecar egress host (`ns/host`
 * required, where `ns` may be `*`, `.`, `~` or `~ns`). Returns every problem found; an empty list means valid.
 */
export function validateNamespacedHost(entry: string, use: NamespacedHostUse): string[] {
  const slash = entry.indexOf('/');
  if (slash < 0) {
    if (use === 'gateway') return validateNamespacedHostPart(entry, use);
    return [`host ${q(entry)} must be of the form namespace/dnsName, e.g. "./${entry}", "*/${entry}" or "istio-system/${entry}"`];
  }
  const ns = entry.slice(0, slash);
  const host = entry.slice(slash + 1);
  const out: string[] = [];
  if (ns === '' || host === '') out.push(`host ${q(entry)}: the namespace and the dnsName must both be non-empty`);
  if (use === 'sidecar') {
    const n = ns.startsWith('~') ? ns.slice(1) : ns;
    if (n !== '' && n !== '*' && n !== '.' && !isDns1123Label(n)) out.push(`host ${q(entry)}: invalid namespace ${q(ns)}: use a namespace name, "*", ".", "~" or "~name"`);
  } else if (ns !== '' && ns !== '*' && ns !== '.' && !isDns1123Label(ns)) {
    out.push(`host ${q(entry)}: invalid namespace ${q(ns)}: use a namespace name, "*" or "."`);
  }
  if (host !== '') out.push(...validateNamespacedHostPart(host, use));
  return out;
}

/** Report every problem of a namespaced host at `r`. */
export function checkNamespacedHost(r: Reporter, entry: unknown, use: NamespacedHostUse): void {
  if (typeof entry !== 'string') {
    r.error(`host must be a string of the form namespace/dnsName, not ${typeof entry}`);
    return;
  }
  for (const m of validateNamespacedHost(entry, use)) r.error(m);
}

/** Report unless `host` is a valid FQDN or wildcard domain (`*.example.com`). */
export function checkWildcardDomain(r: Reporter, host: unknown): boolean {
  const m = typeof host === 'string' ? validateWildcardDomain(host) : `host must be a string, not ${typeof host}`;
  if (m !== undefined) r.error(m);
  return m === undefined;
}

/** Report unless `host` is a valid FQDN (no wildcard). */
export function checkFqdn(r: Reporter, host: unknown): boolean {
  const m = typeof host === 'string' ? validateFqdn(host) : `host must be a string, not ${typeof host}`;
  if (m !== undefined) r.error(m);
  return m === undefined;
}
