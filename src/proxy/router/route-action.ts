// A route's action compiled from Envoy's Route: forward to a cluster (single or weighted, with timeout, retries,
// rewrites), redirect, or answer directly. Plus header edits (HeaderValueOption lists), merged per level.
import type { RE2JS } from 're2js';
import { type Errors, type Raw, arr, at, bool, durationMs, num, obj, str, wrappedNum } from '../config/raw.ts';
import { compileHeaderMatcher, compileRegex, type HeaderTest } from './matchers.ts';

/** Retry conditions Envoy understands in `retry_on` that Weft acts on (decided in ./retry.ts). */
export interface RetryPolicy {
  /** 5xx responses and resets/connect failures (Envoy `5xx`). */
  on5xx: boolean;
  /** 502, 503, 504 responses, resets and connect failures (Envoy `gateway-error`). */
  onGatewayError: boolean;
  /** The upstream connection could not be opened (Envoy `connect-failure`). */
  onConnectFailure: boolean;
  /** The upstream refused the HTTP/2 stream (REFUSED_STREAM, or beyond a GOAWAY's last stream id; Envoy `refused-stream`). */
  onRefusedStream: boolean;
  /** Upstream reset before a response (Envoy `reset`). */
  onReset: boolean;
  /** 409 responses (Envoy `retriable-4xx`). */
  onRetriable4xx: boolean;
  /** Status codes listed in retriable_status_codes (Envoy `retriable-status-codes`). */
  statusCodes: Set<number>;
  /** Response header matchers of retriable_headers (Envoy `retriable-headers`); [] = none. */
  retriableHeaders: HeaderTest[];
  /**
   * gRPC status codes (as sent in `grpc-status`) that make a response retriable when they arrive in the response
   * headers, i.e. trailers-only responses (Envoy `cancelled` 1, `deadline-exceeded` 4, `resource-exhausted` 8,
   * `internal` 13, `unavailable` 14).
   */
  grpcStatuses: Set<string>;
  /** Number of retries after the first try (Envoy default 1). */
  numRetries: number;
  /**
   * retry_host_predicate envoy.retry_host_predicates.previous_hosts (Istio sets it): a retry re-picks a host already
   * tried, up to host_selection_retry_max_attempts times (0 = the predicate is off).
   */
  hostReselectAttempts: number;
  /** Per-try timeout in ms; 0 means none (the route timeout still applies). */
  perTryTimeoutMs: number;
  /** Exponential backoff base and cap in ms (Envoy defaults 25 ms and 10× base). */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** Envoy RouteAction.HashPolicy: what a consistent-hash load balancer hashes. */
export type HashPolicy =
  | { kind: 'header'; name: string; terminal: boolean }
  | { kind: 'cookie'; name: string; terminal: boolean }
  | { kind: 'source_ip'; terminal: boolean }
  | { kind: 'query'; name: string; terminal: boolean };

export type RedirectCode = 301 | 302 | 303 | 307 | 308;

export type RouteAction =
  | {
      kind: 'cluster';
      /** Single cluster: one entry with weight 1. Weighted: cumulative weights for a random pick. */
      clusters: string[];
      cumulative: number[];
      totalWeight: number;
      /** Route timeout in ms; 0 disables it. Envoy's default is 15 s. */
      timeoutMs: number;
      retry: RetryPolicy | undefined;
      prefixRewrite: string | undefined;
      regexRewrite: { re: RE2JS; substitution: string } | undefined;
      hostRewrite: string | undefined;
      /** For RING_HASH / MAGLEV clusters; [] = none. */
      hashPolicies: HashPolicy[];
      /** request_mirror_policies: clusters that get a copy of a fraction (0..1) of the requests. */
      mirrors: { cluster: string; fraction: number }[];
    }
  | {
      kind: 'redirect';
      code: RedirectCode;
      scheme: string | undefined;
      host: string | undefined;
      port: number | undefined;
      path: string | undefined;
      prefixRewrite: string | undefined;
      stripQuery: boolean;
    }
  | { kind: 'direct'; status: number; body: Buffer | undefined };

/** Header edits: applied in the order remove, set (overwrite), add (append), addIfAbsent. */
export interface HeaderOps {
  remove: string[];
  set: [string, string][];
  append: [string, string][];
  addIfAbsent: [string, string][];
}

export const noHeaderOps: HeaderOps = { remove: [], set: [], append: [], addIfAbsent: [] };

export function compileHeaderOps(add: unknown, remove: unknown, path: string, errors: Errors): HeaderOps {
  const ops: HeaderOps = { remove: [], set: [], append: [], addIfAbsent: [] };
  for (const r of arr(remove)) if (typeof r === 'string') ops.remove.push(r.toLowerCase());
  arr(add).forEach((a, i) => {
    const o = obj(a);
    const h = obj(o?.['header']);
    const key = str(h?.['key'])?.toLowerCase();
    const value = str(h?.['value']) ?? '';
    if (!key) return errors.add(at(at(path, 'headers_to_add'), i), 'header needs a key');
    const appendFlag = bool(o?.['append']);
    const action = str(o?.['append_action']) ?? (appendFlag === false ? 'OVERWRITE_IF_EXISTS_OR_ADD' : 'APPEND_IF_EXISTS_OR_ADD');
    if (action === 'OVERWRITE_IF_EXISTS_OR_ADD' || action === 'OVERWRITE_IF_EXISTS') ops.set.push([key, value]);
    else if (action === 'ADD_IF_ABSENT') ops.addIfAbsent.push([key, value]);
    else ops.append.push([key, value]);
  });
  return ops;
}

export function mergeHeaderOps(outer: HeaderOps, inner: HeaderOps): HeaderOps {
  if (inner.remove.length + inner.set.length + inner.append.length + inner.addIfAbsent.length === 0) return outer;
  return {
    remove: [...outer.remove, ...inner.remove],
    set: [...outer.set, ...inner.set],
    append: [...outer.append, ...inner.append],
    addIfAbsent: [...outer.addIfAbsent, ...inner.addIfAbsent],
  };
}

export function hasHeaderOps(o: HeaderOps): boolean {
  return o.remove.length + o.set.length + o.append.length + o.addIfAbsent.length > 0;
}

/** Apply edits to a flat header list in place. */
export function applyHeaderOps(headers: string[], ops: HeaderOps): void {
  for (const name of ops.remove) removeHeader(headers, name);
  for (const [k, v] of ops.set) {
    removeHeader(headers, k);
    headers.push(k, v);
  }
  for (const [k, v] of ops.append) headers.push(k, v);
  for (const [k, v] of ops.addIfAbsent) if (!hasHeader(headers, k)) headers.push(k, v);
}

export function removeHeader(headers: string[], name: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i] === name) headers.splice(i, 2);
}

export function hasHeader(headers: string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
}

const redirectCodes: Record<string, RedirectCode> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

export function compileAction(raw: Raw, path: string, errors: Errors): RouteAction | undefined {
  const route = obj(raw['route']);
  if (route) return compileForward(route, at(path, 'route'), errors);
  const redirect = obj(raw['redirect']);
  if (redirect) {
    const code = redirectCodes[str(redirect['response_code']) ?? 'MOVED_PERMANENTLY'];
    if (!code) errors.add(at(at(path, 'redirect'), 'response_code'), 'unknown redirect response code');
    const scheme = redirect['https_redirect'] === true ? 'https' : str(redirect['scheme_redirect']);
    return {
      kind: 'redirect',
      code: code ?? 301,
      scheme,
      host: str(redirect['host_redirect']),
      port: typeof redirect['port_redirect'] === 'number' ? redirect['port_redirect'] : undefined,
      path: str(redirect['path_redirect']),
      prefixRewrite: str(redirect['prefix_rewrite']),
      stripQuery: redirect['strip_query'] === true,
    };
  }
  const direct = obj(raw['direct_response']);
  if (direct) {
    const status = typeof direct['status'] === 'number' ? direct['status'] : 0;
    if (status < 200 || status > 599) errors.add(at(at(path, 'direct_response'), 'status'), 'status must be 200..599');
    const b = obj(direct['body']);
    let body: Buffer | undefined;
    if (typeof b?.['inline_string'] === 'string') body = Buffer.from(b['inline_string']);
    else if (typeof b?.['inline_bytes'] === 'string') body = Buffer.from(b['inline_bytes'], 'base64');
    return { kind: 'direct', status, body };
  }
  errors.add(path, 'route needs one of route, redirect, direct_response (filter_action and non_forwarding_action are not supported)');
  return undefined;
}

function compileForward(route: Raw, path: string, errors: Errors): RouteAction | undefined {
  const clusters: string[] = [];
  const cumulative: number[] = [];
  let total = 0;
  if (typeof route['cluster'] === 'string' && route['cluster'] !== '') {
    clusters.push(route['cluster']);
    cumulative.push(1);
    total = 1;
  } else if (obj(route['weighted_clusters'])) {
    arr(obj(route['weighted_clusters'])!['clusters']).forEach((c, i) => {
      const co = obj(c);
      const name = str(co?.['name']);
      const weight = wrappedNum(co?.['weight']) ?? 0;
      if (!name) return errors.add(at(at(at(path, 'weighted_clusters'), 'clusters'), i), 'weighted cluster needs a name');
      if (weight <= 0) return;
      total += weight;
      clusters.push(name);
      cumulative.push(total);
    });
    if (clusters.length === 0) errors.add(at(path, 'weighted_clusters'), 'weighted_clusters needs at least one cluster with weight > 0');
  } else {
    errors.add(path, 'route action needs cluster or weighted_clusters (cluster_header is not supported)');
    return undefined;
  }
  const timeout = durationMs(route['timeout']);
  if (Number.isNaN(timeout)) errors.add(at(path, 'timeout'), 'malformed duration');
  let regexRewrite: { re: RE2JS; substitution: string } | undefined;
  const rr = obj(route['regex_rewrite']);
  if (rr) {
    const re = compileRegex(rr['pattern'], at(at(path, 'regex_rewrite'), 'pattern'), errors);
    if (re) regexRewrite = { re, substitution: str(rr['substitution']) ?? '' };
  }
  return {
    kind: 'cluster',
    clusters,
    cumulative,
    totalWeight: total,
    timeoutMs: timeout ?? 15_000,
    retry: compileRetry(obj(route['retry_policy']), at(path, 'retry_policy'), errors),
    prefixRewrite: str(route['prefix_rewrite']),
    regexRewrite,
    hostRewrite: str(route['host_rewrite_literal']),
    hashPolicies: compileHashPolicies(route['hash_policy'], at(path, 'hash_policy'), errors),
    mirrors: compileMirrors(route),
  };
}

function compileRetry(raw: Raw | undefined, path: string, errors: Errors): RetryPolicy | undefined {
  if (!raw) return undefined;
  const on = new Set((str(raw['retry_on']) ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const perTry = durationMs(raw['per_try_timeout']);
  if (Number.isNaN(perTry)) errors.add(at(path, 'per_try_timeout'), 'malformed duration');
  const backoff = obj(raw['retry_back_off']);
  const base = durationMs(backoff?.['base_interval']) ?? 25;
  const max = durationMs(backoff?.['max_interval']) ?? base * 10;
  const codes = new Set<number>();
  for (const c of arr(raw['retriable_status_codes'])) if (typeof c === 'number') codes.add(c);
  const retriableHeaders: HeaderTest[] = [];
  if (on.has('retriable-headers')) {
    arr(raw['retriable_headers']).forEach((h, i) => {
      const t = compileHeaderMatcher(obj(h) ?? {}, at(at(path, 'retriable_headers'), i), errors);
      if (t) retriableHeaders.push(t);
    });
  }
  const grpcStatuses = new Set<string>();
  for (const [name, code] of grpcRetryOn) if (on.has(name)) grpcStatuses.add(code);
  const policy: RetryPolicy = {
    on5xx: on.has('5xx'),
    onGatewayError: on.has('gateway-error'),
    onConnectFailure: on.has('connect-failure'),
    onRefusedStream: on.has('refused-stream'),
    onReset: on.has('reset'),
    onRetriable4xx: on.has('retriable-4xx'),
    statusCodes: on.has('retriable-status-codes') ? codes : new Set(),
    retriableHeaders,
    grpcStatuses,
    numRetries: wrappedNum(raw['num_retries']) ?? 1,
    hostReselectAttempts: arr(raw['retry_host_predicate']).some((h) => str(obj(h)?.['name']) === 'envoy.retry_host_predicates.previous_hosts') ? Math.max(1, num(raw['host_selection_retry_max_attempts']) ?? 1) : 0,
    perTryTimeoutMs: perTry ?? 0,
    backoffBaseMs: base,
    backoffMaxMs: max,
  };
  const any = policy.on5xx || policy.onGatewayError || policy.onConnectFailure || policy.onRefusedStream || policy.onReset || policy.onRetriable4xx;
  if (!any && policy.statusCodes.size === 0 && policy.retriableHeaders.length === 0 && policy.grpcStatuses.size === 0) policy.numRetries = 0;
  return policy;
}

/** Envoy's gRPC retry_on conditions and the grpc-status value each one retries. */
const grpcRetryOn: readonly (readonly [string, string])[] = [
  ['cancelled', '1'],
  ['deadline-exceeded', '4'],
  ['resource-exhausted', '8'],
  ['internal', '13'],
  ['unavailable', '14'],
];

/** Pick a cluster name from a forward action (weighted by a uniform random number in [0,1)). */
export function pickCluster(a: Extract<RouteAction, { kind: 'cluster' }>, random: number): string {
  if (a.clusters.length === 1) return a.clusters[0]!;
  const x = random * a.totalWeight;
  for (let i = 0; i < a.cumulative.length; i++) if (x < a.cumulative[i]!) return a.clusters[i]!;
  return a.clusters[a.clusters.length - 1]!;
}

function compileHashPolicies(raw: unknown, path: string, errors: Errors): HashPolicy[] {
  const out: HashPolicy[] = [];
  arr(raw).forEach((h, i) => {
    const o = obj(h) ?? {};
    const terminal = o['terminal'] === true;
    const header = str(obj(o['header'])?.['header_name']);
    const cookie = str(obj(o['cookie'])?.['name']);
    const query = str(obj(o['query_parameter'])?.['name']);
    if (header) out.push({ kind: 'header', name: header.toLowerCase(), terminal });
    else if (cookie) out.push({ kind: 'cookie', name: cookie, terminal });
    else if (obj(o['connection_properties'])?.['source_ip'] === true) out.push({ kind: 'source_ip', terminal });
    else if (query) out.push({ kind: 'query', name: query, terminal });
    else errors.add(at(path, i), 'hash policy needs header, cookie, connection_properties.source_ip or query_parameter (filter_state is not supported)');
  });
  return out;
}

const mirrorDenominators: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

function compileMirrors(route: Raw): { cluster: string; fraction: number }[] {
  const out: { cluster: string; fraction: number }[] = [];
  for (const m of [...arr(route['request_mirror_policies']), ...(route['request_mirror_policy'] ? [route['request_mirror_policy']] : [])]) {
    const o = obj(m);
    const cluster = str(o?.['cluster']);
    if (!cluster) continue;
    const fv = obj(obj(o?.['runtime_fraction'])?.['default_value']);
    const fraction = fv ? (typeof fv['numerator'] === 'number' ? fv['numerator'] : 0) / (mirrorDenominators[str(fv['denominator']) ?? 'HUNDRED'] ?? 100) : 1;
    out.push({ cluster, fraction: Math.min(1, fraction) });
  }
  return out;
}
