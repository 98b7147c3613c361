// Proxyless gRPC (Istio's `grpc` generator): what @grpc/grpc-js-xds asks for and accepts. Listeners are API
// listeners named exactly as the client's target (`host:port`, FQDN or short); each refers by RDS to a route
// configuration of the same name; clusters are EDS (or LOGICAL_DNS) with ROUND_ROBIN or RING_HASH only, no TLS;
// the HTTP filters are fault then router (router must be last); routes carry only matches, cluster actions,
// weighted clusters, retries and per-route fault config.
import { outboundCluster, parseClusterName } from '../../core/names/cluster-name.ts';
import { resolveHost } from '../snapshot/hosts.ts';
import type { Service } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';
import { resolvePortPolicy, lbFields, outlierDetection } from './cluster-policy.ts';
import { type Json, Types, adsConfigSource, duration, socketAddress, u32 } from './common.ts';
import { clusterEndpoints, loadAssignment } from './eds.ts';
import { sharedResource } from './cache.ts';
import { type RouteContext } from './route.ts';
import { serviceRoutes } from './rds.ts';

export interface GrpcTarget {
  /** The listener name exactly as requested. */
  name: string;
  service: Service;
  port: number;
}

/** Resolve a requested `host[:port]` against the proxy's view: FQDN, `name`, `name.namespace`, `name.namespace.svc`. */
export function resolveGrpcTarget(view: ProxyView, name: string): GrpcTarget | undefined {
  const colon = name.lastIndexOf(':');
  const host = colon > 0 ? name.slice(0, colon) : name;
  const portText = colon > 0 ? name.slice(colon + 1) : '';
  const suffix = view.snapshot.domainSuffix;
  const candidates = [host, resolveHost(host, view.proxy.namespace, suffix), `${host}.svc.${suffix}`, `${host}.${suffix}`];
  for (const c of candidates) {
    const svc = view.serviceByHost(c);
    if (!svc) continue;
    if (portText === '') {
      if (svc.ports.length === 1) return { name, service: svc, port: svc.ports[0]!.port };
      return undefined;
    }
    const port = Number(portText);
    if (svc.ports.some((p) => p.port === port)) return { name, service: svc, port };
  }
  return undefined;
}

function grpcHttpFilters(): Json[] {
  return [
    { name: 'envoy.filters.http.fault', typed_config: { '@type': Types.fault } },
    { name: 'envoy.filters.http.router', typed_config: { '@type': Types.router } },
  ];
}

export function grpcListener(target: GrpcTarget): Json {
  return {
    name: target.name,
    api_listener: {
      api_listener: {
        '@type': Types.hcm,
        stat_prefix: target.name,
        rds: { route_config_name: target.name, config_source: adsConfigSource },
        http_filters: grpcHttpFilters(),
      },
    },
  };
}

export function grpcRouteConfig(view: ProxyView, target: GrpcTarget): Json {
  const ctx: RouteContext = { view, port: target.port, gateway: 'mesh', grpc: true };
  const fqdnName = `${target.service.hostname}:${target.port}`;
  const domains = target.name === fqdnName ? [target.name] : [target.name, fqdnName];
  return { name: target.name, virtual_hosts: [{ name: fqdnName, domains, routes: serviceRoutes(ctx, target.service) }] };
}

/** Every `host:port` listener name of the services the client sees (used when it asks for all listeners). */
function allTargets(view: ProxyView): GrpcTarget[] {
  return view.services.flatMap((svc) => (svc.resolution === 'NONE' ? [] : svc.ports.map((p) => ({ name: `${svc.hostname}:${p.port}`, service: svc, port: p.port }))));
}

/**
 * The address a proxyless gRPC *server* listens on, from its listener name (bootstrap
 * `server_listener_resource_name_template`, e.g. `grpc/server?xds.resource.listening_address=0.0.0.0:50051`).
 */
export function parseServerListenerName(name: string): { host: string; port: number } | undefined {
  const m = /[?&]xds\.resource\.listening_address=([^&]+)/.exec(name);
  if (!m) return undefined;
  const hostPort = decodeURIComponent(m[1]!);
  const colon = hostPort.lastIndexOf(':');
  const port = Number(hostPort.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { host: hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * An xDS server listener for a proxyless gRPC server (gRPC A36): its exact listening address, one plaintext chain whose
 * HTTP connection manager accepts every RPC (`non_forwarding_action`). mTLS for proxyless servers needs gRPC
 * certificate-provider plugins and is not generated.
 */
export function grpcServerListener(name: string, addr: { host: string; port: number }): Json {
  return {
    name,
    address: socketAddress(addr.host, addr.port),
    default_filter_chain: {
      name: `inbound|${addr.port}||`,
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': Types.hcm,
            stat_prefix: `inbound_${addr.port}`,
            route_config: {
              name: `inbound|${addr.port}||`,
              virtual_hosts: [{ name: `inbound|${addr.port}||`, domains: ['*'], routes: [{ match: { prefix: '/' }, non_forwarding_action: {} }] }],
            },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': Types.router } }],
          },
        },
      ],
    },
  };
}

export function generateGrpcListeners(view: ProxyView, requested: readonly string[] | undefined): Json[] {
  if (!requested || requested.length === 0) return allTargets(view).map(grpcListener);
  const out: Json[] = [];
  for (const name of requested) {
    const server = parseServerListenerName(name);
    if (server) {
      out.push(grpcServerListener(name, server));
      continue;
    }
    const target = resolveGrpcTarget(view, name);
    if (target) out.push(grpcListener(target));
  }
  return out;
}

export function generateGrpcRoutes(view: ProxyView, requested: readonly string[] | undefined): Json[] {
  const targets = requested && requested.length > 0 ? requested.map((n) => resolveGrpcTarget(view, n)) : allTargets(view);
  return targets.filter((t): t is GrpcTarget => t !== undefined).map((t) => grpcRouteConfig(view, t));
}

function grpcCluster(view: ProxyView, name: string): Json | undefined {
  const parsed = parseClusterName(name);
  if (!parsed.ok || parsed.value.direction !== 'outbound') return undefined;
  const { host, port, subset } = parsed.value;
  const svc = view.serviceByHost(host);
  const sp = svc?.ports.find((p) => p.port === port);
  if (!svc || !sp || svc.resolution === 'NONE') return undefined;
  const dr = view.destinationRule(svc);
  const ss = subset === '' ? undefined : dr?.subsets.find((s) => s.name === subset);
  if (subset !== '' && !ss) return undefined;
  const policy = resolvePortPolicy(dr?.trafficPolicy, ss?.trafficPolicy, port);
  const c: Json = { name };
  if (svc.resolution === 'STATIC') {
    c['type'] = 'EDS';
    c['eds_cluster_config'] = { service_name: name, eds_config: adsConfigSource };
  } else {
    const ep = view.endpoints(host, port)[0];
    c['type'] = 'LOGICAL_DNS';
    c['load_assignment'] = { cluster_name: name, endpoints: [{ locality: {}, lb_endpoints: ep ? [{ endpoint: { address: socketAddress(ep.address, ep.port) } }] : [] }] };
  }
  c['connect_timeout'] = duration(view.snapshot.mesh.connectTimeoutMs);
  Object.assign(c, lbFields(policy.loadBalancer, true));
  const maxRequests = policy.connectionPool?.http?.http2MaxRequests;
  if (maxRequests !== undefined) c['circuit_breakers'] = { thresholds: [{ priority: 'DEFAULT', max_requests: u32(maxRequests) }] };
  const od = outlierDetection(policy.outlierDetection);
  if (od) c['outlier_detection'] = od;
  return c;
}

function allClusterNames(view: ProxyView): string[] {
  const names: string[] = [];
  for (const svc of view.services) {
    if (svc.resolution === 'NONE') continue;
    const subsets = view.destinationRule(svc)?.subsets ?? [];
    for (const p of svc.ports) {
      names.push(outboundCluster(svc.hostname, p.port));
      for (const s of subsets) names.push(outboundCluster(svc.hostname, p.port, s.name));
    }
  }
  return names;
}

export function generateGrpcClusters(view: ProxyView, requested: readonly string[] | undefined): Json[] {
  const names = requested && requested.length > 0 ? requested : allClusterNames(view);
  return names.map((n) => grpcCluster(view, n)).filter((c): c is Json => c !== undefined);
}

export function generateGrpcEndpoints(view: ProxyView, requested: readonly string[] | undefined): Json[] {
  const names = requested && requested.length > 0 ? requested : allClusterNames(view);
  const out: Json[] = [];
  for (const name of names) {
    const ce = clusterEndpoints(view, name);
    if (!ce) continue;
    const from = ce.failover ? view.proxy.locality : undefined;
    const key = { kind: 'grpc-eds', name, rules: ce.rules, from: from ?? null, ns: view.proxy.namespace };
    // gRPC counts UNHEALTHY endpoints out itself; send only healthy ones so a locality is never all-unhealthy noise.
    out.push(sharedResource(view.snapshot, key, () => loadAssignment(name, ce.endpoints.filter((e) => e.healthy), false, from)));
  }
  return out;
}
