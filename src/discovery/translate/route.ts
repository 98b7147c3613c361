// One VirtualService HTTP route → Envoy routes: matches, the action (cluster, weighted clusters, redirect, direct
// response), timeouts, retries (with Istio's default policy), rewrites, header manipulation, CORS, fault and mirroring.
// Shared by sidecar RDS, gateways and proxyless gRPC (which gets only the subset grpc-js-xds accepts).
import { outboundCluster } from '../../core/names/cluster-name.ts';
import type { Destination, HTTPMatchRequest, HTTPRoute, HeaderOperations, StringMatch } from '../snapshot/istio-types.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import { labelsMatch } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';
import { type Json, Types, duration, fractionalPercent, struct, u32 } from './common.ts';
import { routeClaimMatcher } from './security/claim-routing.ts';

export interface RouteContext {
  view: ProxyView;
  /** The listener (service) port the route config serves. */
  port: number;
  /** `mesh` for sidecars and proxyless clients, `namespace/name` for gateways. */
  gateway: string;
  /** Proxyless gRPC: emit only what grpc-js-xds understands. */
  grpc: boolean;
}

/** Istio's default retry policy for HTTP routes without `retries`. */
export function defaultRetryPolicy(): Json {
  return {
    retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    num_retries: u32(2),
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': Types.previousHosts } }],
    host_selection_retry_max_attempts: 5,
    retriable_status_codes: [503],
  };
}

/** An Envoy StringMatcher from an Istio StringMatch; regexes are RE2 (Envoy's safe_regex). */
export function stringMatcher(m: StringMatch, ignoreCase = false): Json {
  const base: Json = m.exact !== undefined ? { exact: m.exact } : m.prefix !== undefined ? { prefix: m.prefix } : { safe_regex: { regex: m.regex ?? '.*' } };
  return ignoreCase && m.regex === undefined ? { ...base, ignore_case: true } : base;
}

function headerMatcher(name: string, m: StringMatch, invert: boolean): Json {
  const empty = m.exact === undefined && m.prefix === undefined && m.regex === undefined;
  const spec: Json = empty ? { present_match: true } : { string_match: stringMatcher(m) };
  return invert ? { name, ...spec, invert_match: true } : { name, ...spec };
}

function routeMatch(m: HTTPMatchRequest | undefined): Json {
  const out: Json = {};
  const uri = m?.uri;
  if (!uri) out['prefix'] = '/';
  else if (uri.exact !== undefined) out['path'] = uri.exact;
  else if (uri.prefix !== undefined) out['prefix'] = uri.prefix;
  else out['safe_regex'] = { regex: uri.regex ?? '.*' };
  if (m?.ignoreUriCase) out['case_sensitive'] = { value: false };
  const headers: Json[] = [];
  const claims: Json[] = [];
  // `@request.auth.claims.*` keys match the verified JWT's claims (route dynamic_metadata), not headers.
  const add = (name: string, sm: StringMatch, invert: boolean): void => {
    const claim = routeClaimMatcher(name, stringMatcher(sm), invert);
    if (claim) claims.push(claim);
    else headers.push(headerMatcher(name, sm, invert));
  };
  for (const [name, sm] of Object.entries(m?.headers ?? {})) add(name, sm, false);
  for (const [name, sm] of Object.entries(m?.withoutHeaders ?? {})) add(name, sm, true);
  if (claims.length > 0) out['dynamic_metadata'] = claims;
  if (m?.method) headers.push(headerMatcher(':method', m.method, false));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority, false));
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme, false));
  if (headers.length > 0) out['headers'] = headers;
  const qp = Object.entries(m?.queryParams ?? {}).map(([name, sm]) =>
    sm.exact === undefined && sm.prefix === undefined && sm.regex === undefined ? { name, present_match: true } : { name, string_match: stringMatcher(sm) },
  );
  if (qp.length > 0) out['query_parameters'] = qp;
  return out;
}

/** Does a match apply to this proxy, port and gateway (Istio filters these at translation time)? */
function matchApplies(ctx: RouteContext, m: HTTPMatchRequest): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, ctx.view.proxy.labels)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== ctx.view.proxy.namespace) return false;
  if (m.gateways && m.gateways.length > 0 && !m.gateways.includes(ctx.gateway)) return false;
  return true;
}

/** The service port a destination refers to: explicit, the service's only port, or the listener port. */
export function destinationPort(ctx: RouteContext, d: Destination): number {
  if (d.port?.number !== undefined) return d.port.number;
  const svc = ctx.view.serviceByHost(d.host);
  if (svc && svc.ports.length === 1) return svc.ports[0]!.port;
  return ctx.port;
}

export function destinationCluster(ctx: RouteContext, d: Destination): string {
  return outboundCluster(d.host, destinationPort(ctx, d), d.subset ?? '');
}

function headerValues(ops: HeaderOperations | undefined): { add: Json[]; remove: string[] } {
  const add: Json[] = [];
  for (const [key, value] of Object.entries(ops?.set ?? {})) add.push({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  for (const [key, value] of Object.entries(ops?.add ?? {})) add.push({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' });
  return { add, remove: ops?.remove ?? [] };
}

const grpcCodes: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
  DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** The HTTPFault per-route config for an Istio fault, or undefined. */
export function faultConfig(r: HTTPRoute): Json | undefined {
  if (!r.fault) return undefined;
  const out: Json = { '@type': Types.fault };
  const d = r.fault.delay;
  if (d) {
    const ms = parseDurationMillis(d.fixedDelay) ?? 0;
    out['delay'] = { fixed_delay: duration(ms), percentage: fractionalPercent(d.percentage?.value ?? d.percent ?? 100) };
  }
  const a = r.fault.abort;
  if (a) {
    const pct = fractionalPercent(a.percentage?.value ?? 100);
    if (a.grpcStatus !== undefined) out['abort'] = { grpc_status: grpcCodes[a.grpcStatus] ?? Number(a.grpcStatus), percentage: pct };
    else out['abort'] = { http_status: a.httpStatus ?? 500, percentage: pct };
  }
  return out;
}

function corsConfig(r: HTTPRoute): Json | undefined {
  const c = r.corsPolicy;
  if (!c) return undefined;
  const origins = [...(c.allowOrigins ?? []).map((o) => stringMatcher(o)), ...(c.allowOrigin ?? []).map((o) => ({ exact: o }))];
  const out: Json = { '@type': Types.corsPolicy, allow_origin_string_match: origins };
  if (c.allowMethods) out['allow_methods'] = c.allowMethods.join(',');
  if (c.allowHeaders) out['allow_headers'] = c.allowHeaders.join(',');
  if (c.exposeHeaders) out['expose_headers'] = c.exposeHeaders.join(',');
  const maxAge = parseDurationMillis(c.maxAge);
  if (maxAge !== undefined) out['max_age'] = String(Math.floor(maxAge / 1000));
  if (c.allowCredentials !== undefined) out['allow_credentials'] = { value: c.allowCredentials };
  return out;
}

function retryPolicy(ctx: RouteContext, r: HTTPRoute): Json | undefined {
  if (!r.retries) return ctx.grpc ? undefined : defaultRetryPolicy();
  if ((r.retries.attempts ?? 0) <= 0) return undefined;
  const out: Json = { num_retries: u32(r.retries.attempts ?? 2) };
  out['retry_on'] = r.retries.retryOn ?? (ctx.grpc ? 'unavailable,cancelled' : 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes');
  const perTry = parseDurationMillis(r.retries.perTryTimeout);
  if (perTry !== undefined && !ctx.grpc) out['per_try_timeout'] = duration(perTry);
  const backoff = parseDurationMillis(r.retries.backoff);
  if (backoff !== undefined && backoff > 0) out['retry_back_off'] = { base_interval: duration(backoff), max_interval: duration(backoff * 10) };
  else if (ctx.grpc) out['retry_back_off'] = { base_interval: duration(25), max_interval: duration(250) };
  if (!ctx.grpc) {
    // Istio retries on another host unless told not to (retryIgnorePreviousHosts: false).
    if (r.retries.retryIgnorePreviousHosts !== false) {
      out['retry_host_predicate'] = [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': Types.previousHosts } }];
      out['host_selection_retry_max_attempts'] = 5;
    }
    if ((out['retry_on'] as string).includes('retriable-status-codes')) out['retriable_status_codes'] = [503];
  }
  return out;
}

/** Route-level hash policy when the destination's DestinationRule asks for consistent hashing. */
function hashPolicy(ctx: RouteContext, d: Destination): Json[] | undefined {
  const svc = ctx.view.serviceByHost(d.host);
  if (!svc) return undefined;
  const dr = ctx.view.destinationRule(svc);
  const subsetPolicy = dr?.subsets.find((s) => s.name === d.subset)?.trafficPolicy;
  const port = destinationPort(ctx, d);
  const portPolicy = (subsetPolicy ?? dr?.trafficPolicy)?.portLevelSettings?.find((p) => p.port?.number === port);
  const ch = (portPolicy?.loadBalancer ?? subsetPolicy?.loadBalancer ?? dr?.trafficPolicy?.loadBalancer)?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return [{ header: { header_name: ch.httpHeaderName } }];
  if (ch.httpCookie) {
    const ttl = parseDurationMillis(ch.httpCookie.ttl);
    return [{ cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}), ...(ttl !== undefined ? { ttl: duration(ttl) } : {}) } }];
  }
  if (ch.useSourceIp) return [{ connection_properties: { source_ip: true } }];
  if (ch.httpQueryParameterName) return [{ query_parameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

function routeAction(ctx: RouteContext, r: HTTPRoute, m: HTTPMatchRequest | undefined): Json {
  const dests = r.route ?? [];
  const action: Json = {};
  if (dests.length === 1) {
    action['cluster'] = destinationCluster(ctx, dests[0]!.destination);
  } else {
    const clusters = dests.map((d) => {
      const cw: Json = { name: destinationCluster(ctx, d.destination), weight: u32(d.weight ?? Math.floor(100 / dests.length)) };
      if (!ctx.grpc) {
        const req = headerValues(d.headers?.request);
        const resp = headerValues(d.headers?.response);
        if (req.add.length > 0) cw['request_headers_to_add'] = req.add;
        if (req.remove.length > 0) cw['request_headers_to_remove'] = req.remove;
        if (resp.add.length > 0) cw['response_headers_to_add'] = resp.add;
        if (resp.remove.length > 0) cw['response_headers_to_remove'] = resp.remove;
      }
      return cw;
    });
    action['weighted_clusters'] = { clusters: clusters.filter((c) => (c['weight'] as { value: number }).value > 0) };
  }
  const timeout = parseDurationMillis(r.timeout);
  if (ctx.grpc) {
    if (timeout !== undefined) action['max_stream_duration'] = { max_stream_duration: duration(timeout), grpc_timeout_header_max: duration(timeout) };
  } else {
    action['timeout'] = duration(timeout ?? 0);
  }
  const retry = retryPolicy(ctx, r);
  if (retry) action['retry_policy'] = retry;
  if (ctx.grpc) return action;
  if (r.rewrite?.uri !== undefined) {
    if (m?.uri?.regex !== undefined) action['regex_rewrite'] = { pattern: { regex: m.uri.regex }, substitution: r.rewrite.uri };
    else action['prefix_rewrite'] = r.rewrite.uri;
  }
  if (r.rewrite?.uriRegexRewrite) action['regex_rewrite'] = { pattern: { regex: r.rewrite.uriRegexRewrite.match }, substitution: r.rewrite.uriRegexRewrite.rewrite };
  if (r.rewrite?.authority) action['host_rewrite_literal'] = r.rewrite.authority;
  // mirrorPercent / mirror_percent are the deprecated integer forms of mirrorPercentage.
  const legacyPercent = r.mirrorPercent ?? r.mirror_percent;
  const mirrorPct = r.mirrorPercentage ?? (legacyPercent !== undefined ? { value: legacyPercent } : undefined);
  const mirrors = [...(r.mirror ? [{ destination: r.mirror, percentage: mirrorPct }] : []), ...(r.mirrors ?? [])];
  if (mirrors.length > 0) {
    action['request_mirror_policies'] = mirrors.map((mi) => ({
      cluster: destinationCluster(ctx, mi.destination),
      runtime_fraction: { default_value: fractionalPercent(mi.percentage?.value ?? 100) },
    }));
  }
  if (dests.length === 1) {
    const hp = hashPolicy(ctx, dests[0]!.destination);
    if (hp) action['hash_policy'] = hp;
  }
  return action;
}

const redirectCodes: Record<number, string> = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };

function redirectAction(r: NonNullable<HTTPRoute['redirect']>): Json {
  const out: Json = {};
  if (r.uri !== undefined) out['path_redirect'] = r.uri;
  else if (r.prefixRewrite !== undefined) out['prefix_rewrite'] = r.prefixRewrite;
  if (r.authority !== undefined) out['host_redirect'] = r.authority;
  if (r.port !== undefined) out['port_redirect'] = r.port;
  if (r.scheme !== undefined) out['scheme_redirect'] = r.scheme;
  out['response_code'] = redirectCodes[r.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY';
  return out;
}

/** Translate one HTTPRoute to Envoy routes (one per applicable match). `index` names unnamed routes. */
export function translateHttpRoute(ctx: RouteContext, r: HTTPRoute): Json[] {
  const matches = r.match && r.match.length > 0 ? r.match.filter((m) => matchApplies(ctx, m)) : [undefined];
  if (matches.length === 0) return [];
  if (ctx.grpc && !r.route) return []; // grpc-js-xds supports route actions only.
  const fault = faultConfig(r);
  const cors = ctx.grpc ? undefined : corsConfig(r);
  const req = headerValues(r.headers?.request);
  const resp = headerValues(r.headers?.response);
  return matches.map((m) => {
    const route: Json = {};
    if (r.name) route['name'] = m?.name ? `${r.name}.${m.name}` : r.name;
    route['match'] = routeMatch(m);
    if (r.directResponse) {
      const body = r.directResponse.body?.string ?? (r.directResponse.body?.bytes ? Buffer.from(r.directResponse.body.bytes, 'base64').toString() : undefined);
      route['direct_response'] = { status: r.directResponse.status, ...(body !== undefined ? { body: { inline_string: body } } : {}) };
    } else if (r.redirect) {
      route['redirect'] = redirectAction(r.redirect);
    } else {
      route['route'] = routeAction(ctx, r, m);
    }
    const perFilter: Json = {};
    if (fault) perFilter['envoy.filters.http.fault'] = fault;
    if (cors) perFilter['envoy.filters.http.cors'] = cors;
    if (Object.keys(perFilter).length > 0) route['typed_per_filter_config'] = perFilter;
    if (!ctx.grpc) {
      if (req.add.length > 0) route['request_headers_to_add'] = req.add;
      if (req.remove.length > 0) route['request_headers_to_remove'] = req.remove;
      if (resp.add.length > 0) route['response_headers_to_add'] = resp.add;
      if (resp.remove.length > 0) route['response_headers_to_remove'] = resp.remove;
      // Single-destination header operations apply to the whole route.
      const only = r.route?.length === 1 ? r.route[0] : undefined;
      if (only?.headers) {
        const dreq = headerValues(only.headers.request);
        const dresp = headerValues(only.headers.response);
        if (dreq.add.length > 0) route['request_headers_to_add'] = [...((route['request_headers_to_add'] as Json[]) ?? []), ...dreq.add];
        if (dreq.remove.length > 0) route['request_headers_to_remove'] = [...((route['request_headers_to_remove'] as string[]) ?? []), ...dreq.remove];
        if (dresp.add.length > 0) route['response_headers_to_add'] = [...((route['response_headers_to_add'] as Json[]) ?? []), ...dresp.add];
        if (dresp.remove.length > 0) route['response_headers_to_remove'] = [...((route['response_headers_to_remove'] as string[]) ?? []), ...dresp.remove];
      }
    }
    return route;
  });
}

/** True when an Envoy route matches every request (prefix `/`, nothing else), so later routes are unreachable. */
function isCatchAll(route: Json): boolean {
  const m = route['match'] as Json;
  return m['prefix'] === '/' && Object.keys(m).length === 1;
}

/** Which VirtualService produced a route: Istio's `filter_metadata.istio.config` path (shown by `proxy-config route`). */
export interface RouteSource {
  namespace: string;
  name: string;
}

/** Istio's route metadata naming the VirtualService a route came from. */
export function routeSourceMetadata(src: RouteSource): Json {
  return { filter_metadata: { istio: struct({ config: `/apis/networking.istio.io/v1/namespaces/${src.namespace}/virtual-service/${src.name}` }) } };
}

/** Translate all HTTP routes of a VirtualService, stopping after a catch-all as Envoy would never reach the rest. */
export function translateHttpRoutes(ctx: RouteContext, http: readonly HTTPRoute[], source?: RouteSource): Json[] {
  const out: Json[] = [];
  const metadata = source && !ctx.grpc ? routeSourceMetadata(source) : undefined;
  for (const r of http) {
    for (const route of translateHttpRoute(ctx, r)) {
      if (metadata) route['metadata'] = metadata;
      out.push(route);
      if (isCatchAll(route)) return out;
    }
  }
  return out;
}

/** The route for a service without a VirtualService: everything to its cluster, Istio's default retries, no timeout. */
export function defaultRoute(ctx: RouteContext, host: string, port: number): Json {
  const action: Json = { cluster: outboundCluster(host, port) };
  if (!ctx.grpc) {
    action['timeout'] = duration(0);
    action['retry_policy'] = defaultRetryPolicy();
    const hp = hashPolicy(ctx, { host, port: { number: port } });
    if (hp) action['hash_policy'] = hp;
  }
  return { name: 'default', match: { prefix: '/' }, route: action };
}
