// Gateways (`router` proxies): one listener per Gateway server port among the Gateways whose selector matches the
// proxy; HTTP servers share a route config `http.<port>`; HTTPS servers terminate TLS in an SNI-matched chain with
// route config `https.<port>.<server>.<gateway>.<ns>`; TLS PASSTHROUGH servers forward by SNI per the bound
// VirtualServices' tls routes; TCP servers forward per their tcp routes. Routes come from VirtualServices bound to
// the gateway (`gateways: [ns/name]`) whose hosts fall under the server's hosts.
import { outboundCluster } from '../../core/names/cluster-name.ts';
import { hostMatches } from '../snapshot/hosts.ts';
import type { GatewayServer, ServerTLSSettings } from '../snapshot/istio-types.ts';
import type { GatewayRecord } from '../snapshot/snapshot.ts';
import type { ProxyView } from '../snapshot/view.ts';
import type { VirtualServiceRecord } from '../snapshot/virtual-services.ts';
import { type Json, Types, sdsSecret, socketAddress, tcpProxyFilter } from './common.ts';
import { hcmFilter, httpFilters, istioDownstreamTls, listenerFilter } from './listener-parts.ts';
import { workloadSecurity } from './security/view.ts';
import { hcmPathNormalization } from './security/index.ts';
import { istioSni } from './cluster-policy.ts';
import { claimDomains } from './rds.ts';
import { type RouteContext, destinationCluster, translateHttpRoutes } from './route.ts';
import { hcmTracing } from './tracing.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';

interface BoundServer {
  gateway: GatewayRecord;
  server: GatewayServer;
  index: number;
}

type ServerKind = 'http' | 'https' | 'passthrough' | 'tcp';

function serverKind(s: GatewayServer): ServerKind {
  const p = (s.port.protocol ?? '').toUpperCase();
  if (p === 'HTTP' || p === 'HTTP2' || p === 'GRPC') return 'http';
  if (p === 'HTTPS' || p === 'TLS') {
    const mode = s.tls?.mode ?? 'SIMPLE';
    if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') return 'passthrough';
    return 'https';
  }
  return 'tcp';
}

/** Server hosts are `[namespace/]host`; the namespace part limits which VirtualServices may bind. */
function serverHostAdmits(serverHost: string, gatewayNs: string, vsNs: string, host: string): boolean {
  const slash = serverHost.indexOf('/');
  const ns = slash < 0 ? '*' : serverHost.slice(0, slash);
  const h = slash < 0 ? serverHost : serverHost.slice(slash + 1);
  const nsOk = ns === '*' || (ns === '.' ? vsNs === gatewayNs : ns === vsNs);
  return nsOk && (hostMatches(h, host) || hostMatches(host, h));
}

function boundServers(view: ProxyView): Map<number, BoundServer[]> {
  const byPort = new Map<number, BoundServer[]>();
  for (const gw of view.gateways) {
    (gw.spec.servers ?? []).forEach((server, index) => {
      const list = byPort.get(server.port.number) ?? [];
      list.push({ gateway: gw, server, index });
      byPort.set(server.port.number, list);
    });
  }
  return byPort;
}

/** Route config name for an HTTPS server, as Istio names it. */
export function httpsRouteName(b: BoundServer): string {
  return `https.${b.server.port.number}.${b.server.port.name ?? b.index}.${b.gateway.name}.${b.gateway.namespace}`;
}

/**
 * DownstreamTlsContext for an HTTPS server: SIMPLE (certificate only), MUTUAL (client certificate required),
 * OPTIONAL_MUTUAL (verified when presented), ISTIO_MUTUAL (the gateway's own workload certificate and the mesh roots).
 */
function serverTls(tls: ServerTLSSettings | undefined): Json {
  if (tls?.mode === 'ISTIO_MUTUAL') return istioDownstreamTls(['h2', 'http/1.1']);
  const mutual = tls?.mode === 'MUTUAL' || tls?.mode === 'OPTIONAL_MUTUAL';
  const common: Json = {};
  if (tls?.credentialName) {
    common['tls_certificate_sds_secret_configs'] = [sdsSecret(tls.credentialName)];
    if (mutual) common['validation_context_sds_secret_config'] = sdsSecret(`${tls.credentialName}-cacert`);
  } else {
    if (tls?.serverCertificate && tls.privateKey) common['tls_certificates'] = [{ certificate_chain: { filename: tls.serverCertificate }, private_key: { filename: tls.privateKey } }];
    if (mutual && tls?.caCertificates) common['validation_context'] = { trusted_ca: { filename: tls.caCertificates } };
  }
  common['alpn_protocols'] = ['h2', 'http/1.1'];
  const params = tlsParams(tls);
  if (params) common['tls_params'] = params;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: { '@type': Types.downstreamTls, common_tls_context: common, ...(tls?.mode === 'MUTUAL' ? { require_client_certificate: { value: true } } : {}) },
  };
}

/** Envoy TlsParameters from minProtocolVersion/maxProtocolVersion/cipherSuites (TLSV1_2 → TLSv1_2), when set. */
function tlsParams(tls: ServerTLSSettings | undefined): Json | undefined {
  const version = (v: string | undefined): string | undefined => (v && v !== 'TLS_AUTO' ? `TLSv${v.slice('TLSV'.length)}` : undefined);
  const p: Json = {};
  const min = version(tls?.minProtocolVersion);
  const max = version(tls?.maxProtocolVersion);
  if (min) p['tls_minimum_protocol_version'] = min;
  if (max) p['tls_maximum_protocol_version'] = max;
  if (tls?.cipherSuites && tls.cipherSuites.length > 0) p['cipher_suites'] = [...tls.cipherSuites];
  return Object.keys(p).length > 0 ? p : undefined;
}

function sniNames(hosts: readonly string[]): string[] {
  const names = hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h)).filter((h) => h !== '*');
  return [...new Set(names)];
}

function vsBoundTo(view: ProxyView, b: BoundServer): VirtualServiceRecord[] {
  return [...view.virtualServices(b.gateway.key)];
}

/** L4 chains for a PASSTHROUGH or TCP server from the bound VirtualServices' tls/tcp routes. */
function l4Chains(view: ProxyView, b: BoundServer, kind: 'passthrough' | 'tcp'): Json[] {
  const port = b.server.port.number;
  const ctx: RouteContext = { view, port, gateway: b.gateway.key, grpc: false };
  const chains: Json[] = [];
  for (const vs of vsBoundTo(view, b)) {
    if (!vs.hosts.some((h) => b.server.hosts.some((sh) => serverHostAdmits(sh, b.gateway.namespace, vs.namespace, h)))) continue;
    const routes = kind === 'passthrough' ? (vs.spec.tls ?? []) : (vs.spec.tcp ?? []);
    for (const r of routes) {
      const matches = r.match ?? [];
      if (matches.length > 0 && !matches.some((m) => (m.port === undefined || m.port === port) && (!m.gateways || m.gateways.includes(b.gateway.key)))) continue;
      const dests = r.route ?? [];
      if (dests.length === 0) continue;
      const target = dests.length === 1 ? destinationCluster(ctx, dests[0]!.destination) : dests.map((d) => ({ name: destinationCluster(ctx, d.destination), weight: d.weight ?? 0 }));
      const statPrefix = typeof target === 'string' ? target : `${vs.namespace}/${vs.name}`;
      // As on sidecars (lds.ts tcpChain), and as Istio looks it up (the first destination's service): its
      // DestinationRule connectionPool.tcp.idleTimeout is the tcp_proxy idle_timeout (0s = none).
      const first = view.serviceByHost(dests[0]!.destination.host);
      const idle = first ? parseDurationMillis(view.destinationRule(first)?.trafficPolicy?.connectionPool?.tcp?.idleTimeout) : undefined;
      const chain: Json = { filters: [tcpProxyFilter(statPrefix, target, idle)] };
      if (kind === 'passthrough') {
        const sni = matches.flatMap((m) => (m as { sniHosts?: string[] }).sniHosts ?? []);
        chain['filter_chain_match'] = { server_names: sni.length > 0 ? sni : sniNames(vs.hosts) };
      }
      chains.push(chain);
      if (kind === 'tcp') return chains; // One TCP route per port: the first wins.
    }
  }
  return chains;
}

/**
 * AUTO_PASSTHROUGH (Istio's multi-network gateway): no VirtualService; a chain per visible service port and subset
 * under the server's hosts, matched on the SNI Istio clients send (`outbound_.9080_.v1_.reviews…`) and forwarded to
 * that cluster without terminating TLS.
 */
function autoPassthroughChains(view: ProxyView, b: BoundServer): Json[] {
  const chains: Json[] = [];
  for (const svc of view.services) {
    if (!b.server.hosts.some((sh) => serverHostAdmits(sh, b.gateway.namespace, svc.namespace, svc.hostname))) continue;
    const subsets = ['', ...(view.destinationRule(svc)?.subsets ?? []).map((s) => s.name)];
    for (const p of svc.ports) {
      for (const subset of subsets) {
        const cluster = outboundCluster(svc.hostname, p.port, subset);
        chains.push({ filter_chain_match: { server_names: [istioSni(svc.hostname, p.port, subset)] }, filters: [tcpProxyFilter(cluster, cluster)] });
      }
    }
  }
  return chains;
}

/** Gateway listeners, one per server port. */
export function generateGatewayListeners(view: ProxyView): Json[] {
  const out: Json[] = [];
  const security = workloadSecurity(view).httpFilters;
  const gatewayHcm = { use_remote_address: { value: true }, ...hcmPathNormalization(view.snapshot.mesh.pathNormalization), ...(security.length > 0 ? { http_filters: [...security, ...httpFilters()] } : {}), ...hcmTracing(view, 'gateway') };
  for (const [port, servers] of [...boundServers(view)].sort((a, b) => a[0] - b[0])) {
    const chains: Json[] = [];
    let needsTlsInspector = false;
    let plainHttp = false;
    for (const b of servers) {
      const kind = serverKind(b.server);
      if (kind === 'http') {
        if (plainHttp) continue;
        plainHttp = true;
        chains.push({ filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: `http.${port}` }, gatewayHcm)] });
      } else if (kind === 'https') {
        needsTlsInspector = true;
        const names = sniNames(b.server.hosts);
        chains.push({
          ...(names.length > 0 ? { filter_chain_match: { server_names: names } } : {}),
          filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: httpsRouteName(b) }, gatewayHcm)],
          transport_socket: serverTls(b.server.tls),
        });
      } else if (kind === 'passthrough' && b.server.tls?.mode === 'AUTO_PASSTHROUGH') {
        needsTlsInspector = true;
        chains.push(...autoPassthroughChains(view, b));
      } else {
        if (kind === 'passthrough') needsTlsInspector = true;
        chains.push(...l4Chains(view, b, kind));
      }
    }
    if (chains.length === 0) continue;
    // A server's `bind` (an IP) sets the listener address, as in Istio; servers on one port share the first one's.
    const bind = servers.find((b) => b.server.bind && !b.server.bind.startsWith('unix://'))?.server.bind ?? '0.0.0.0';
    const listener: Json = { name: `${bind}_${port}`, address: socketAddress(bind, port), traffic_direction: 'OUTBOUND', filter_chains: chains };
    if (needsTlsInspector) listener['listener_filters'] = [listenerFilter.tlsInspector];
    out.push(listener);
  }
  return out;
}

function gatewayVirtualHosts(view: ProxyView, servers: readonly BoundServer[], port: number): Json[] {
  const routesByHost = new Map<string, Json[]>();
  for (const b of servers) {
    const ctx: RouteContext = { view, port, gateway: b.gateway.key, grpc: false };
    for (const vs of vsBoundTo(view, b)) {
      if (!vs.spec.http || vs.spec.http.length === 0) continue;
      const hosts = vs.hosts.filter((h) => b.server.hosts.some((sh) => serverHostAdmits(sh, b.gateway.namespace, vs.namespace, h)));
      if (hosts.length === 0) continue;
      const routes = translateHttpRoutes(ctx, vs.spec.http, vs);
      for (const h of hosts) routesByHost.set(h, [...(routesByHost.get(h) ?? []), ...routes]);
    }
  }
  const used = new Set<string>();
  const vhosts: Json[] = [];
  // Specific hosts before wildcards so that Envoy's domain matching prefers them as Istio's does.
  const hosts = [...routesByHost.keys()].sort((a, b) => (a === '*' ? 1 : b === '*' ? -1 : a < b ? -1 : a > b ? 1 : 0));
  for (const h of hosts) {
    const domains = claimDomains(used, h === '*' ? ['*'] : [h, `${h}:${port}`]);
    if (domains.length === 0) continue;
    const redirect = servers.some((b) => b.server.tls?.httpsRedirect);
    vhosts.push({ name: `${h}:${port}`, domains, routes: routesByHost.get(h)!, ...(redirect ? { require_tls: 'ALL' } : {}) });
  }
  if (vhosts.length === 0) {
    vhosts.push({ name: 'blackhole:' + port, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, direct_response: { status: 404 } }] });
  }
  return vhosts;
}

/** Gateway route configurations (`http.<port>`, `https.<port>.<server>.<gateway>.<ns>`). */
export function generateGatewayRoutes(view: ProxyView, requested: readonly string[] | undefined): Json[] {
  const out: Json[] = [];
  for (const [port, servers] of [...boundServers(view)].sort((a, b) => a[0] - b[0])) {
    const http = servers.filter((b) => serverKind(b.server) === 'http');
    if (http.length > 0) out.push({ name: `http.${port}`, virtual_hosts: gatewayVirtualHosts(view, http, port), validate_clusters: { value: false } });
    for (const b of servers.filter((s) => serverKind(s.server) === 'https')) {
      out.push({ name: httpsRouteName(b), virtual_hosts: gatewayVirtualHosts(view, [b], port), validate_clusters: { value: false } });
    }
  }
  if (!requested || requested.length === 0) return out;
  return out.filter((r) => requested.includes(r['name'] as string));
}
