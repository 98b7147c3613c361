// RouteConfiguration (RDS) compiled into an immutable route table: virtual hosts selected by domain as Envoy does
// (exact, then the longest suffix wildcard, then the longest prefix wildcard, then `*`), and routes matched in order
// by path (prefix / exact path / RE2 full-match regex / path_separated_prefix), headers and query parameters.
import type { RE2JS } from 're2js';
import type { FieldError, Result } from '../../core/result.ts';
import { Errors, type Raw, arr, at, bool, obj, str } from '../config/raw.ts';
import { compileHeaderMatcher, compileQueryMatcher, compileRegex, type HeaderTest, type QueryTest } from './matchers.ts';
import { compileAction, compileHeaderOps, mergeHeaderOps, type HeaderOps, type RouteAction } from './route-action.ts';
import { compileFault, type FaultConfig } from '../filters/fault/fault.ts';
import { compileCors, type CorsConfig } from '../filters/cors/cors.ts';
import { compileRouteMetadataMatcher } from '../filters/rbac/values.ts';
import type { JwtInfo } from '../filters/rbac/request.ts';

export type PathMatch =
  | { kind: 'prefix'; value: string; caseSensitive: boolean }
  | { kind: 'exact'; value: string; caseSensitive: boolean }
  | { kind: 'regex'; re: RE2JS }
  | { kind: 'separated'; value: string; caseSensitive: boolean };

export interface Route {
  /** Route name (Istio sets it from the VirtualService http route name) — for logs and stats. */
  name: string;
  path: PathMatch;
  headers: HeaderTest[];
  query: QueryTest[];
  /** dynamic_metadata matchers (claim-based routing) over the request's verified JWT. */
  metadata: Array<(jwt: JwtInfo | undefined) => boolean>;
  action: RouteAction;
  /** Header edits (route config → virtual host → route, merged at compile time). */
  requestHeaders: HeaderOps;
  responseHeaders: HeaderOps;
  /** Fault injection (typed_per_filter_config envoy.filters.http.fault), route level over virtual host level. */
  fault: FaultConfig | undefined;
  /** CORS (typed_per_filter_config envoy.filters.http.cors), route level over virtual host level. */
  cors: CorsConfig | undefined;
  /** Virtual host include_request_attempt_count: send `x-envoy-attempt-count` upstream (Istio sets it). */
  includeAttemptCount?: boolean;
}

export interface VirtualHost {
  name: string;
  routes: Route[];
  /** require_tls (Gateway httpsRedirect): requests not over TLS get this 301 to https instead of a route. */
  tlsRedirect: Route | undefined;
}

export interface RouteTable {
  name: string;
  exact: Map<string, VirtualHost>;
  /** `*.example.com` style, longest suffix first. */
  suffix: { suffix: string; vh: VirtualHost }[];
  /** `example.*` style, longest prefix first. */
  prefix: { prefix: string; vh: VirtualHost }[];
  star: VirtualHost | undefined;
  ignorePortInHostMatching: boolean;
}

/** What the router needs of a request to match it. Header names are lower-case. */
export interface MatchInput {
  authority: string;
  /** Path without the query string. */
  path: string;
  /** Query string without '?', '' when none. */
  query: string;
  method: string;
  scheme: string;
  headers: string[];
  /** The JWT the security chain verified, for claim-based routing. */
  jwt?: JwtInfo;
}

export function compileRouteConfiguration(raw: Raw): Result<RouteTable, FieldError[]> {
  const errors = new Errors();
  const name = str(raw['name']) ?? '';
  const table: RouteTable = {
    name,
    exact: new Map(),
    suffix: [],
    prefix: [],
    star: undefined,
    ignorePortInHostMatching: raw['ignore_port_in_host_matching'] === true,
  };
  const rcReq = compileHeaderOps(raw['request_headers_to_add'], raw['request_headers_to_remove'], '', errors);
  const rcResp = compileHeaderOps(raw['response_headers_to_add'], raw['response_headers_to_remove'], '', errors);
  arr(raw['virtual_hosts']).forEach((v, i) => {
    const path = at('virtual_hosts', i);
    const vraw = obj(v);
    if (!vraw) return errors.add(path, 'virtual host must be an object');
    const vhReq = mergeHeaderOps(rcReq, compileHeaderOps(vraw['request_headers_to_add'], vraw['request_headers_to_remove'], path, errors));
    const vhResp = mergeHeaderOps(rcResp, compileHeaderOps(vraw['response_headers_to_add'], vraw['response_headers_to_remove'], path, errors));
    const requireTls = str(vraw['require_tls']) ?? 'NONE';
    if (requireTls !== 'NONE' && requireTls !== 'ALL' && requireTls !== 'EXTERNAL_ONLY') errors.add(at(path, 'require_tls'), `unknown require_tls ${requireTls}`);
    // EXTERNAL_ONLY is treated as ALL: this proxy does not tell internal requests apart.
    const vh: VirtualHost = { name: str(vraw['name']) ?? `vh${i}`, routes: [], tlsRedirect: requireTls === 'NONE' ? undefined : httpsRedirectRoute(vhReq, vhResp) };
    const vhFault = compileFault(vraw['typed_per_filter_config'], path, errors);
    const vhCors = compileCors(vraw['typed_per_filter_config'], path, errors);
    arr(vraw['routes']).forEach((r, j) => {
      const route = compileRoute(obj(r) ?? {}, at(at(path, 'routes'), j), errors, vhReq, vhResp, vhFault, vhCors);
      if (route && vraw['include_request_attempt_count'] === true) route.includeAttemptCount = true;
      if (route) vh.routes.push(route);
    });
    arr(vraw['domains']).forEach((d, k) => {
      const dpath = at(at(path, 'domains'), k);
      if (typeof d !== 'string' || d === '') return errors.add(dpath, 'domain must be a non-empty string');
      const domain = d.toLowerCase();
      if (domain === '*') {
        if (table.star) return errors.add(dpath, 'only one virtual host may have the domain "*"');
        table.star = vh;
      } else if (domain.startsWith('*')) table.suffix.push({ suffix: domain.slice(1), vh });
      else if (domain.endsWith('*')) table.prefix.push({ prefix: domain.slice(0, -1), vh });
      else {
        if (table.exact.has(domain)) return errors.add(dpath, `domain "${domain}" appears in two virtual hosts`);
        table.exact.set(domain, vh);
      }
    });
  });
  table.suffix.sort((a, b) => b.suffix.length - a.suffix.length);
  table.prefix.sort((a, b) => b.prefix.length - a.prefix.length);
  return errors.any ? { ok: false, error: errors.list } : { ok: true, value: table };
}

function compileRoute(raw: Raw, path: string, errors: Errors, vhReq: HeaderOps, vhResp: HeaderOps, vhFault: FaultConfig | undefined, vhCors: CorsConfig | undefined): Route | undefined {
  const m = obj(raw['match']);
  if (!m) {
    errors.add(at(path, 'match'), 'route needs a match');
    return undefined;
  }
  const mpath = at(path, 'match');
  const caseSensitive = bool(m['case_sensitive']) !== false;
  let pm: PathMatch | undefined;
  if (typeof m['prefix'] === 'string') pm = { kind: 'prefix', value: caseSensitive ? m['prefix'] : m['prefix'].toLowerCase(), caseSensitive };
  else if (typeof m['path'] === 'string') pm = { kind: 'exact', value: caseSensitive ? m['path'] : m['path'].toLowerCase(), caseSensitive };
  else if (typeof m['path_separated_prefix'] === 'string') {
    const v = m['path_separated_prefix'];
    pm = { kind: 'separated', value: caseSensitive ? v : v.toLowerCase(), caseSensitive };
  } else if (m['safe_regex'] !== undefined) {
    const re = compileRegex(m['safe_regex'], at(mpath, 'safe_regex'), errors);
    if (re) pm = { kind: 'regex', re };
  } else if (m['connect_matcher'] !== undefined) pm = { kind: 'prefix', value: '', caseSensitive: true };
  else errors.add(mpath, 'route match needs one of prefix, path, safe_regex, path_separated_prefix');
  const headers: HeaderTest[] = [];
  arr(m['headers']).forEach((h, i) => {
    const t = compileHeaderMatcher(obj(h) ?? {}, at(at(mpath, 'headers'), i), errors);
    if (t) headers.push(t);
  });
  const query: QueryTest[] = [];
  arr(m['query_parameters']).forEach((q, i) => {
    const t = compileQueryMatcher(obj(q) ?? {}, at(at(mpath, 'query_parameters'), i), errors);
    if (t) query.push(t);
  });
  const metadata: Route['metadata'] = [];
  arr(m['dynamic_metadata']).forEach((d, i) => {
    const t = compileRouteMetadataMatcher(d, at(at(mpath, 'dynamic_metadata'), i), errors);
    if (t) metadata.push(t);
  });
  const action = compileAction(raw, path, errors);
  if (!pm || !action) return undefined;
  return {
    name: str(raw['name']) ?? '',
    path: pm,
    headers,
    query,
    metadata,
    action,
    requestHeaders: mergeHeaderOps(vhReq, compileHeaderOps(raw['request_headers_to_add'], raw['request_headers_to_remove'], path, errors)),
    responseHeaders: mergeHeaderOps(vhResp, compileHeaderOps(raw['response_headers_to_add'], raw['response_headers_to_remove'], path, errors)),
    fault: compileFault(raw['typed_per_filter_config'], path, errors) ?? vhFault,
    cors: compileCors(raw['typed_per_filter_config'], path, errors) ?? vhCors,
  };
}

/** Select the virtual host for an authority (lower-cased, possibly with :port). */
export function selectVirtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
  let host = authority;
  if (table.ignorePortInHostMatching) {
    const colon = host.lastIndexOf(':');
    if (colon > 0 && host.indexOf(']', colon) < 0) host = host.slice(0, colon);
  }
  const exact = table.exact.get(host);
  if (exact) return exact;
  for (const s of table.suffix) if (host.length > s.suffix.length && host.endsWith(s.suffix)) return s.vh;
  for (const p of table.prefix) if (host.length > p.prefix.length && host.startsWith(p.prefix)) return p.vh;
  return table.star;
}

export function headerValue(headers: string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) found = found === undefined ? headers[i + 1] : `${found},${headers[i + 1]}`;
  }
  return found;
}

function pseudoOrHeader(input: MatchInput, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* : */) {
    switch (name) {
      case ':authority':
        return input.authority;
      case ':path':
        return input.query === '' ? input.path : `${input.path}?${input.query}`;
      case ':method':
        return input.method;
      case ':scheme':
        return input.scheme;
    }
  }
  return headerValue(input.headers, name);
}

export function queryValue(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k === name) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return undefined;
}

function pathMatches(pm: PathMatch, path: string): boolean {
  switch (pm.kind) {
    case 'prefix':
      return pm.caseSensitive ? path.startsWith(pm.value) : path.toLowerCase().startsWith(pm.value);
    case 'exact':
      return pm.caseSensitive ? path === pm.value : path.toLowerCase() === pm.value;
    case 'regex':
      return pm.re.matches(path);
    case 'separated': {
      const p = pm.caseSensitive ? path : path.toLowerCase();
      return p.startsWith(pm.value) && (p.length === pm.value.length || p.charCodeAt(pm.value.length) === 47);
    }
  }
}

/** Envoy's require_tls answer: 301 to the same authority, path and query over https. */
function httpsRedirectRoute(requestHeaders: HeaderOps, responseHeaders: HeaderOps): Route {
  return {
    name: 'require_tls',
    path: { kind: 'prefix', value: '', caseSensitive: true },
    headers: [],
    query: [],
    metadata: [],
    action: { kind: 'redirect', code: 301, scheme: 'https', host: undefined, port: undefined, path: undefined, prefixRewrite: undefined, stripQuery: false },
    requestHeaders,
    responseHeaders,
    fault: undefined,
    cors: undefined,
  };
}

/** The first route of the virtual host whose every condition holds (a plaintext request to a require_tls host: the https redirect). */
export function matchRoute(vh: VirtualHost, input: MatchInput): Route | undefined {
  if (vh.tlsRedirect && input.scheme !== 'https') return vh.tlsRedirect;
  outer: for (const r of vh.routes) {
    if (!pathMatches(r.path, input.path)) continue;
    for (const h of r.headers) if (!h.test(pseudoOrHeader(input, h.name))) continue outer;
    for (const q of r.query) if (!q.test(queryValue(input.query, q.name))) continue outer;
    for (const d of r.metadata) if (!d(input.jwt)) continue outer;
    return r;
  }
  return undefined;
}
