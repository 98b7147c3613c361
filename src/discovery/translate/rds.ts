// RDS for sidecars: one RouteConfiguration per outbound HTTP port, named by the port (`9080`), with a virtual host
// per service on that port (domains: FQDN, short names, VIPs, each also with `:port`) whose routes come from the
// service's VirtualService or a default route, and a catch-all virtual host for unknown hosts.
import { PassthroughCluster } from '../../core/names/cluster-name.ts';
import { hostAliases } from '../snapshot/hosts.ts';
import { type Service, isHttpProtocol } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';
import { type Json, duration } from './common.ts';
import { type RouteContext, defaultRoute, translateHttpRoutes } from './route.ts';

/** Outbound HTTP ports of the services the proxy sees, ascending. */
export function httpPorts(view: ProxyView): number[] {
  const ports = new Set<number>();
  for (const svc of view.services) for (const p of svc.ports) if (isHttpProtocol(p.protocol) && view.outboundPortAllowed(svc, p.port)) ports.add(p.port);
  return [...ports].sort((a, b) => a - b);
}

/** Routes for `svc` on `port`: its VirtualService's routes when it has any for this port, else the default route. */
export function serviceRoutes(ctx: RouteContext, svc: Service): Json[] {
  const vs = ctx.view.virtualServiceFor(svc.hostname, ctx.gateway);
  if (vs) {
    const routes = translateHttpRoutes(ctx, vs.spec.http ?? [], vs);
    if (routes.length > 0) return routes;
  }
  return [defaultRoute(ctx, svc.hostname, ctx.port)];
}

/** Claim domains not used by an earlier virtual host: Envoy rejects a route config with duplicate domains. */
export function claimDomains(used: Set<string>, domains: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of domains) {
    const k = d.toLowerCase();
    if (used.has(k)) continue;
    used.add(k);
    out.push(d);
  }
  return out;
}

function catchAllVirtualHost(view: ProxyView): Json {
  if (view.outboundTrafficPolicy === 'REGISTRY_ONLY') {
    return { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }] };
  }
  return {
    name: 'allow_any',
    domains: ['*'],
    routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PassthroughCluster, timeout: duration(0) } }],
  };
}

/** The route configuration for outbound port `port`. */
export function sidecarRouteConfig(view: ProxyView, port: number): Json {
  const ctx: RouteContext = { view, port, gateway: 'mesh', grpc: false };
  const used = new Set<string>();
  const vhosts: Json[] = [];
  for (const svc of view.services) {
    const sp = svc.ports.find((p) => p.port === port);
    if (!sp || !isHttpProtocol(sp.protocol) || !view.outboundPortAllowed(svc, port)) continue;
    const names = [...hostAliases(svc.hostname, port, view.proxy.namespace, view.snapshot.domainSuffix), ...svc.addresses.flatMap((a) => [a, `${a}:${port}`])];
    const domains = claimDomains(used, names);
    if (domains.length === 0) continue;
    vhosts.push({ name: `${svc.hostname}:${port}`, domains, routes: serviceRoutes(ctx, svc), include_request_attempt_count: true });
  }
  if (!used.has('*')) vhosts.push(catchAllVirtualHost(view));
  return { name: String(port), virtual_hosts: vhosts, validate_clusters: { value: false }, ignore_port_in_host_matching: true };
}

/** RDS response for a sidecar: requested route configs (by port name) or all. */
export function generateSidecarRoutes(view: ProxyView, requested: readonly string[] | undefined): Json[] {
  const all = httpPorts(view).map(String);
  const names = requested && requested.length > 0 ? requested.filter((n) => /^\d+$/.test(n)) : all;
  return names.map((n) => sidecarRouteConfig(view, Number(n)));
}
