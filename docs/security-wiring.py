# Applies the security wiring (docs/security.md "Wiring") to a Weft tree: python3 docs/security-wiring.py <tree>.
# Anchored text edits of the discovery translator and the proxy; docs/security-wiring.patch is its output against the
# commit it was generated on. Re-run this when those files changed since (it knows both proxy listener shapes seen).
# Re-applies the security wiring to a tree (argv[1]) whose proxy files are the current main versions.
import sys
root = sys.argv[1]
def edit(rel, pairs):
    p = f'{root}/{rel}'
    s = open(p).read()
    for old, new in pairs:
        if old not in s:
            raise SystemExit(f'{rel}: anchor not found:\n{old[:200]}')
        s = s.replace(old, new, 1)
    open(p, 'w').write(s)

def try_edit(rel, pairs):
    p = f'{root}/{rel}'
    s = open(p).read()
    if not all(old in s for old, _ in pairs):
        return False
    for old, new in pairs:
        s = s.replace(old, new, 1)
    open(p, 'w').write(s)
    return True

# The tcp action gains the chain's network RBAC (two shapes of the proxy's listener config are known).
if not try_edit('src/proxy/listener/listener-config.ts', [("{ kind: 'tcp'; cluster: string; statPrefix: string }", "{ kind: 'tcp'; cluster: string; statPrefix: string; /** envoy.filters.network.rbac before tcp_proxy. */ rbac?: NetworkRbac }")]):
    edit('src/proxy/listener/listener-config.ts', [("  statPrefix: string;\n}\n\nexport type NetworkAction = { kind: 'http'; hcm: HcmConfig } | TcpAction;", "  statPrefix: string;\n  /** envoy.filters.network.rbac before tcp_proxy: decided once per connection. */\n  rbac?: NetworkRbac;\n}\n\nexport type NetworkAction = { kind: 'http'; hcm: HcmConfig } | TcpAction;")])

edit('src/proxy/listener/listener-config.ts', [
("import { compileRouteConfiguration, type RouteTable } from '../router/route-table.ts';",
 "import { compileRouteConfiguration, type RouteTable } from '../router/route-table.ts';\nimport { buildHttpSecurity, buildNetworkRbac, isSecurityFilter, type HttpSecurity, type NetworkRbac } from '../security/http-security.ts';\nimport { normalizationOfHcm, type PathNormalization } from '../security/path-normalize.ts';"),
("""  /** HTTP filters accepted but not enforced by this build (reported in config_dump). */
  ignoredFilters: string[];
""", """  /** HTTP filters accepted but not enforced by this build (reported in config_dump). */
  ignoredFilters: string[];
  /** jwt_authn → ext_authz → RBAC, built from http_filters (undefined when the chain has none). */
  security: HttpSecurity | undefined;
  /** How request paths are normalised before security and routing (normalize_path, merge_slashes …). */
  pathNormalization: PathNormalization;
"""),
("""  let action: NetworkAction | undefined;
  filters.forEach((f, i) => {""", """  let action: NetworkAction | undefined;
  let rbac: NetworkRbac | undefined;
  filters.forEach((f, i) => {"""),
("""    } else if (fname.includes('rbac') || type.includes('rbac')) {
      errors.add(fpath, 'network RBAC is not implemented in this proxy; refusing the listener rather than serving without the policy');
    }""", """    } else if (fname === 'envoy.filters.network.rbac' || type.endsWith('.network.rbac.v3.RBAC')) {
      try {
        rbac = buildNetworkRbac(tc);
      } catch (e) {
        errors.add(at(fpath, 'typed_config'), e instanceof Error ? e.message : String(e));
      }
    } else if (fname.includes('ext_authz') || type.includes('ext_authz')) {
      errors.add(fpath, 'network ext_authz is not implemented in this proxy; refusing the listener rather than serving without the policy');
    }"""),
("""  if (!action) {
    errors.add(at(path, 'filters'), 'filter chain needs an http_connection_manager or tcp_proxy filter');""", """  if (rbac && action?.kind === 'tcp') action = { ...action, rbac };
  if (!action) {
    errors.add(at(path, 'filters'), 'filter chain needs an http_connection_manager or tcp_proxy filter');"""),
("""    if (enforcingFilters.some((e) => fname.includes(e) || type.includes(`.${e}.`)) && fo['is_optional'] !== true) {""", """    if (isSecurityFilter(fname, type)) return; // compiled below, as one chain
    if (enforcingFilters.some((e) => fname.includes(e) || type.includes(`.${e}.`)) && fo['is_optional'] !== true) {"""),
("""  if (!sawRouter) errors.add(at(path, 'http_filters'), 'the HTTP filter chain must end with envoy.filters.http.router');""", """  if (!sawRouter) errors.add(at(path, 'http_filters'), 'the HTTP filter chain must end with envoy.filters.http.router');
  let security: HttpSecurity | undefined;
  try {
    security = buildHttpSecurity(arr(raw['http_filters']));
  } catch (e) {
    errors.add(at(path, 'http_filters'), e instanceof Error ? e.message : String(e));
  }"""),
("""    ignoredFilters: ignored,
""", """    ignoredFilters: ignored,
    security,
    pathNormalization: normalizationOfHcm(raw),
"""),
])

edit('src/proxy/hcm/passthrough.ts', [("  ignoredFilters: [],\n", "  ignoredFilters: [],\n  security: undefined,\n  pathNormalization: 'NONE',\n")])

edit('src/proxy/hcm/stream-info.ts', [("  | 'SI'; // stream idle timeout", "  | 'SI' // stream idle timeout\n  | 'RBAC' // denied by an RBAC policy\n  | 'UAEX'; // denied by the external authorization service")])

# Network RBAC runs before any byte is proxied: inside proxyTcp when it takes the chain's action (every TCP path,
# inbound mTLS included), else where listener-mode TCP connections are accepted.
TCP_OLD = "  const clusterName = typeof target === 'string' ? target : pickTcpCluster(target, () => services.random());"
TCP_NEW = """  // envoy.filters.network.rbac: decided once, before any byte is proxied; a denial closes the connection.
  if (typeof target !== 'string' && target.rbac && !target.rbac.run({ sourceIp: socket.remoteAddress ?? '', destinationIp: socket.localAddress ?? '', destinationPort: socket.localPort ?? 0, ...(origin.peer ? { peerPrincipal: origin.peer } : {}) }).allowed) {
    socket.destroy();
    return;
  }
""" + TCP_OLD
if not try_edit('src/proxy/listener/tcp-proxy.ts', [(TCP_OLD, TCP_NEW)]):
    edit('src/proxy/listener/listener-manager.ts', [("    if (chain.action.kind === 'tcp') {\n", """    if (chain.action.kind === 'tcp') {
      // envoy.filters.network.rbac: decided once, before any byte is proxied; a denial closes the connection.
      const rbac = chain.action.rbac;
      if (rbac && !rbac.run({ sourceIp: socket.remoteAddress ?? '', destinationIp: socket.localAddress ?? '', destinationPort: socket.localPort ?? l.port }).allowed) {
        socket.destroy();
        return;
      }
""")])

edit('src/proxy/hcm/stream.ts', [
("import { PassthroughCluster } from '../../core/names/cluster-name.ts';", "import { PassthroughCluster } from '../../core/names/cluster-name.ts';\nimport { originalClientIp, type SecurityOutcome } from '../security/http-security.ts';\nimport { normalizePath } from '../security/path-normalize.ts';"),
("""    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
""", ""),
("""    const hcm = this.conn.hcmFor(port);
    const services = this.conn.ctx.services;
    let route: Route | undefined;""", """    const hcm = this.conn.hcmFor(port);
    if (hcm && (hcm.security !== undefined || hcm.pathNormalization !== 'NONE')) return this.secure(hcm, authority, target, port);
    this.routeRequest(hcm, authority, target, port);
  }

  /**
   * Path normalisation, then the security filters (jwt_authn → ext_authz → RBAC) before routing, as Envoy runs its
   * HTTP filters before the router. A denial is a local reply; an asynchronous step (JWKS fetch, authorizer call)
   * pauses the downstream socket, with body bytes kept as during an injected delay.
   */
  private secure(hcm: HcmConfig, authority: string, rawTarget: string, port: number): void {
    const target = normalizePath(rawTarget, hcm.pathNormalization);
    const security = hcm.security;
    if (!security) return this.routeRequest(hcm, authority, target, port);
    const req = this.req;
    const tls = this.conn.tls;
    const services = this.conn.ctx.services;
    const resolve = (name: string): { host: string; port: number } | undefined => {
      const h = services.clusters.get(name)?.choose(performance.now(), () => services.random(), undefined);
      return h ? { host: h.address, port: h.port } : undefined;
    };
    const out = security.run({
      method: req.method,
      path: target,
      host: authority,
      headers: req.headers,
      sourceIp: this.conn.remoteIp,
      ...(hcm.xffNumTrustedHops > 0 ? { remoteIp: originalClientIp(req.headers, hcm.xffNumTrustedHops) ?? this.conn.remoteIp } : {}),
      destinationPort: this.conn.localPort,
      ...(tls?.peer ? { peerPrincipal: tls.peer } : {}),
    }, resolve);
    const next = (o: SecurityOutcome): void => {
      if (o.kind === 'respond') return this.localReply(o.status, o.body, o.flag, o.details, o.headers.length > 0 ? [...o.headers] : undefined);
      if (o.headers !== req.headers) req.headers = [...o.headers];
      this.routeRequest(hcm, authority, target, port);
    };
    if (!(out instanceof Promise)) return next(out);
    if (req.body !== 'none') this.replay = [];
    this.conn.socket.pause();
    out.then(
      (o) => {
        if (this.done) return;
        this.conn.socket.resume();
        next(o);
      },
      () => {
        if (this.done) return;
        this.conn.socket.resume();
        this.localReply(500, undefined, undefined, 'security_filter_failed');
      },
    );
  }

  private routeRequest(hcm: HcmConfig | undefined, authority: string, target: string, port: number): void {
    const info = this.info;
    const req = this.req;
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    const services = this.conn.ctx.services;
    let route: Route | undefined;"""),
("""    if (req.body !== 'none') this.replay = [];
    const fault""", """    if (req.body !== 'none') this.replay ??= [];
    const fault"""),
])
print('wired')


# ---- HTTP/2: the same security step before routing (or h2 requests would bypass it) ----
p = f'{root}/src/proxy/h2/h2-connection.ts'
s = open(p).read()
anchor_import = "import { requestHash } from '../router/hash-key.ts';"
assert anchor_import in s, 'h2 import anchor'
s = s.replace(anchor_import, anchor_import + "\nimport { originalClientIp, type SecurityOutcome } from '../security/http-security.ts';\nimport { normalizePath } from '../security/path-normalize.ts';", 1)
start_anchor = "  const hcm = hcmForPort(meta.ctx, meta.localPort, meta.tls, port);\n"
assert start_anchor in s, 'h2 hcm anchor'
head, rest = s.split(start_anchor, 1)
fn_end = rest.index("\n}\n\ntype LocalReply")
body, tail = rest[:fn_end], rest[fn_end:]
indented = '\n'.join(('  ' + l if l.strip() else l) for l in body.split('\n'))
security_step = '''  const hcm = hcmForPort(meta.ctx, meta.localPort, meta.tls, port);
  if (hcm && (hcm.security !== undefined || hcm.pathNormalization !== 'NONE')) {
    // Path normalisation and the security filters run before routing, as for HTTP/1.1 (hcm/stream.ts secure()).
    const normalized = normalizePath(target, hcm.pathNormalization);
    const security = hcm.security;
    if (!security) return proceed(normalized, flat);
    const resolve = (name: string): { host: string; port: number } | undefined => {
      const h = services.clusters.get(name)?.choose(performance.now(), () => services.random(), undefined);
      return h ? { host: h.address, port: h.port } : undefined;
    };
    const decided = security.run({ method, path: normalized, host: authority, headers: flat, sourceIp: meta.remoteIp, ...(hcm.xffNumTrustedHops > 0 ? { remoteIp: originalClientIp(flat, hcm.xffNumTrustedHops) ?? meta.remoteIp } : {}), destinationPort: meta.localPort, ...(meta.tls?.peer ? { peerPrincipal: meta.tls.peer } : {}) }, resolve);
    const next = (o: SecurityOutcome): void => {
      if (o.kind === 'continue') return proceed(normalized, o.headers === flat ? flat : [...o.headers]);
      const extra: Record<string, string> = {};
      for (let i = 0; i < o.headers.length; i += 2) extra[o.headers[i]!] = o.headers[i + 1]!;
      local(o.status, o.body, o.flag, o.details, extra);
    };
    if (!(decided instanceof Promise)) return next(decided);
    stream.pause();
    decided.then(
      (o) => {
        stream.resume();
        next(o);
      },
      () => local(500, '', undefined, 'security_filter_failed'),
    );
    return;
  }
  proceed(target, flat);

  function proceed(target: string, flat: string[]): void {
'''
s = head + security_step + indented + '\n  }' + tail
open(p, 'w').write(s)
print('h2 wired')


edit('src/discovery/translate/lds.ts', [
("import { inboundPorts } from './inbound.ts';", "import { inboundPorts } from './inbound.ts';\nimport { workloadSecurity } from './security/view.ts';\nimport { httpFilters } from './listener-parts.ts';"),
("""function inboundHcm(targetPort: number): Json {""", """function inboundHcm(targetPort: number, security: readonly Json[]): Json {"""),
("""    { forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true } },
  );
}""", """    { forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true }, http_filters: [...security, ...httpFilters()] },
  );
}"""),
("""  const chains: Json[] = [];
  for (const p of inboundPorts(view)) {
    const mode = view.mtlsMode(p.targetPort);
    const http = isHttpProtocol(p.protocol);
    const filters = [http ? inboundHcm(p.targetPort) : tcpProxyFilter(`inbound|${p.targetPort}||`, inboundCluster(p.targetPort))];""", """  const chains: Json[] = [];
  const sec = workloadSecurity(view);
  for (const p of inboundPorts(view)) {
    const mode = sec.mtls.modeFor(p.targetPort);
    const http = isHttpProtocol(p.protocol);
    const filters = http ? [inboundHcm(p.targetPort, sec.httpFilters)] : [...sec.tcpFilters, tcpProxyFilter(`inbound|${p.targetPort}||`, inboundCluster(p.targetPort))];"""),
])
print('discovery wired')

# ---- gateways: AuthorizationPolicy / RequestAuthentication apply to the gateway workload's HTTP servers ----
edit('src/discovery/translate/gateway.ts', [
("import { hcmFilter, istioDownstreamTls, listenerFilter } from './listener-parts.ts';", "import { hcmFilter, httpFilters, istioDownstreamTls, listenerFilter } from './listener-parts.ts';\nimport { workloadSecurity } from './security/view.ts';"),
("""export function generateGatewayListeners(view: ProxyView): Json[] {
  const out: Json[] = [];""", """export function generateGatewayListeners(view: ProxyView): Json[] {
  const out: Json[] = [];
  const security = workloadSecurity(view).httpFilters;
  const gatewayHcm = security.length > 0 ? { use_remote_address: { value: true }, http_filters: [...security, ...httpFilters()] } : { use_remote_address: { value: true } };"""),
("""        chains.push({ filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: `http.${port}` }, { use_remote_address: { value: true } })] });""", """        chains.push({ filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: `http.${port}` }, gatewayHcm)] });"""),
("""          filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: httpsRouteName(b) }, { use_remote_address: { value: true } })],""", """          filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: httpsRouteName(b) }, gatewayHcm)],"""),
])
print('gateway wired')

# ---- auto-mTLS: no mTLS origination to a service whose PeerAuthentication is DISABLE ----
edit('src/discovery/translate/cds.ts', [
("      autoMtls: view.snapshot.mesh.enableAutoMtls,", "      autoMtls: view.snapshot.mesh.enableAutoMtls && inferServiceMtlsMode(view.snapshot.configs, svc.namespace, view.snapshot.mesh.rootNamespace) !== 'DISABLE',"),
])
p = f'{root}/src/discovery/translate/cds.ts'
s = open(p).read()
first_import_end = s.index('\n', s.index('\nimport ') + 1)
s = s[:first_import_end + 1] + "import { inferServiceMtlsMode } from './security/peer-authn.ts';\n" + s[first_import_end + 1:]
open(p, 'w').write(s)
print('auto-mtls wired')

edit('src/discovery/translate/route.ts', [
("import { type Json, Types, duration, fractionalPercent, u32 } from './common.ts';", "import { type Json, Types, duration, fractionalPercent, u32 } from './common.ts';\nimport { routeClaimMatcher } from './security/claim-routing.ts';"),
("""  const headers: Json[] = [];
  for (const [name, sm] of Object.entries(m?.headers ?? {})) headers.push(headerMatcher(name, sm, false));
  for (const [name, sm] of Object.entries(m?.withoutHeaders ?? {})) headers.push(headerMatcher(name, sm, true));""", """  const headers: Json[] = [];
  const claims: Json[] = [];
  // `@request.auth.claims.*` keys match the verified JWT's claims (route dynamic_metadata), not headers.
  const add = (name: string, sm: StringMatch, invert: boolean): void => {
    const claim = routeClaimMatcher(name, stringMatcher(sm), invert);
    if (claim) claims.push(claim);
    else headers.push(headerMatcher(name, sm, invert));
  };
  for (const [name, sm] of Object.entries(m?.headers ?? {})) add(name, sm, false);
  for (const [name, sm] of Object.entries(m?.withoutHeaders ?? {})) add(name, sm, true);
  if (claims.length > 0) out['dynamic_metadata'] = claims;"""),
])

edit('src/proxy/router/route-table.ts', [
("import { compileCors, type CorsConfig } from '../filters/cors/cors.ts';", "import { compileCors, type CorsConfig } from '../filters/cors/cors.ts';\nimport { compileRouteMetadataMatcher } from '../filters/rbac/values.ts';\nimport type { JwtInfo } from '../filters/rbac/request.ts';"),
("""  headers: HeaderTest[];
  query: QueryTest[];""", """  headers: HeaderTest[];
  query: QueryTest[];
  /** dynamic_metadata matchers (claim-based routing) over the request's verified JWT. */
  metadata: Array<(jwt: JwtInfo | undefined) => boolean>;"""),
("""  scheme: string;
  headers: string[];
}""", """  scheme: string;
  headers: string[];
  /** The JWT the security chain verified, for claim-based routing. */
  jwt?: JwtInfo;
}"""),
("""  const action = compileAction(raw, path, errors);
  if (!pm || !action) return undefined;""", """  const metadata: Route['metadata'] = [];
  arr(m['dynamic_metadata']).forEach((d, i) => {
    const t = compileRouteMetadataMatcher(d, at(at(mpath, 'dynamic_metadata'), i), errors);
    if (t) metadata.push(t);
  });
  const action = compileAction(raw, path, errors);
  if (!pm || !action) return undefined;"""),
("""    headers,
    query,
    action,""", """    headers,
    query,
    metadata,
    action,"""),
("""    for (const q of r.query) if (!q.test(queryValue(input.query, q.name))) continue outer;""", """    for (const q of r.query) if (!q.test(queryValue(input.query, q.name))) continue outer;
    for (const d of r.metadata) if (!d(input.jwt)) continue outer;"""),
])

edit('src/proxy/hcm/stream.ts', [
("""      if (o.headers !== req.headers) req.headers = [...o.headers];
      this.routeRequest(hcm, authority, target, port);""", """      if (o.headers !== req.headers) req.headers = [...o.headers];
      this.jwt = o.jwt;
      this.routeRequest(hcm, authority, target, port);"""),
("""headers: req.headers };
      route = vh ? matchRoute(vh, input)""", """headers: req.headers, ...(this.jwt ? { jwt: this.jwt } : {}) };
      route = vh ? matchRoute(vh, input)"""),
("""  private secure(hcm: HcmConfig""", """  /** The JWT verified by the security chain (claim-based routing reads it). */
  private jwt: JwtInfo | undefined;

  private secure(hcm: HcmConfig"""),
("import { normalizePath } from '../security/path-normalize.ts';", "import { normalizePath } from '../security/path-normalize.ts';\nimport type { JwtInfo } from '../filters/rbac/request.ts';"),
])

edit('src/proxy/h2/h2-connection.ts', [
("""      if (o.kind === 'continue') return proceed(normalized, o.headers === flat ? flat : [...o.headers]);""", """      if (o.kind === 'continue') return proceed(normalized, o.headers === flat ? flat : [...o.headers], o.jwt);"""),
("""  function proceed(target: string, flat: string[]): void {""", """  function proceed(target: string, flat: string[], jwt?: JwtInfo): void {"""),
("""headers: flat }) : undefined;""", """headers: flat, ...(jwt ? { jwt } : {}) }) : undefined;"""),
("import { normalizePath } from '../security/path-normalize.ts';", "import { normalizePath } from '../security/path-normalize.ts';\nimport type { JwtInfo } from '../filters/rbac/request.ts';"),
])
print('claims wired')
edit('src/proxy/hcm/passthrough.ts', [("  headers: [],\n  query: [],\n", "  headers: [],\n  query: [],\n  metadata: [],\n")])
p = f'{root}/src/proxy/router/route-table.ts'
s = open(p).read()
s = s.replace("    headers: [],\n    query: [],\n    action: { kind: 'redirect'", "    headers: [],\n    query: [],\n    metadata: [],\n    action: { kind: 'redirect'")
open(p, 'w').write(s)
