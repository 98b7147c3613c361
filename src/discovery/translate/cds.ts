// CDS for sidecars and gateways: one cluster per (service port) and per (service port, subset), with the
// DestinationRule policies applied; the special clusters (PassthroughCluster, BlackHoleCluster,
// InboundPassthroughCluster); and inbound clusters for the proxy's own workload ports.
import { BlackHoleCluster, InboundPassthroughCluster, PassthroughCluster, inboundCluster, outboundCluster } from '../../core/names/cluster-name.ts';
import { inferServiceMtlsMode } from './security/peer-authn.ts';
import type { Subset } from '../snapshot/istio-types.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import { type Service, type ServicePort, isHttpProtocol } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';
import { circuitBreakers, clusterTls, httpProtocolOptions, lbFields, outlierDetection, resolvePortPolicy } from './cluster-policy.ts';
import { type Json, adsConfigSource, duration, socketAddress } from './common.ts';
import { inboundPorts } from './inbound.ts';
import { sharedResource } from './cache.ts';

function connectTimeout(view: ProxyView, ms: number | undefined): Json {
  return duration(ms ?? view.snapshot.mesh.connectTimeoutMs);
}

/** Cluster discovery fields by the service's resolution. */
function discovery(view: ProxyView, svc: Service, port: ServicePort, name: string): Json {
  switch (svc.resolution) {
    case 'STATIC':
      return { type: 'EDS', eds_cluster_config: { service_name: name, eds_config: adsConfigSource } };
    case 'DNS':
    case 'DNS_ROUND_ROBIN': {
      const eps = view.endpoints(svc.hostname, port.port);
      return {
        type: svc.resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS',
        dns_lookup_family: 'V4_ONLY',
        load_assignment: {
          cluster_name: name,
          endpoints: [{ lb_endpoints: (svc.resolution === 'DNS' ? eps : eps.slice(0, 1)).map((e) => ({ endpoint: { address: socketAddress(e.address, e.port) } })) }],
        },
      };
    }
    case 'NONE':
      return { type: 'ORIGINAL_DST' };
  }
}

/**
 * One outbound cluster for (service, port, subset). It depends on the proxy only through which DestinationRules apply,
 * so it is shared by every proxy with the same rules (see cache.ts).
 */
export function outboundClusterFor(view: ProxyView, svc: Service, port: ServicePort, subset: Subset | undefined): Json {
  const dr = view.destinationRule(svc);
  const key = { kind: 'cds', ns: svc.namespace, host: svc.hostname, port: port.port, subset: subset?.name ?? '', rules: dr?.sources ?? [] };
  return sharedResource(view.snapshot, key, () => buildOutboundCluster(view, svc, port, subset));
}

function buildOutboundCluster(view: ProxyView, svc: Service, port: ServicePort, subset: Subset | undefined): Json {
  const name = outboundCluster(svc.hostname, port.port, subset?.name ?? '');
  const dr = view.destinationRule(svc);
  const policy = resolvePortPolicy(dr?.trafficPolicy, subset?.trafficPolicy, port.port);
  const c: Json = { name, ...discovery(view, svc, port, name) };
  c['connect_timeout'] = connectTimeout(view, parseDurationMillis(policy.connectionPool?.tcp?.connectTimeout));
  Object.assign(c, svc.resolution === 'NONE' ? { lb_policy: 'CLUSTER_PROVIDED' } : lbFields(policy.loadBalancer, false));
  c['circuit_breakers'] = circuitBreakers(policy.connectionPool);
  const od = outlierDetection(policy.outlierDetection);
  if (od) c['outlier_detection'] = od;
  const opts = isHttpProtocol(port.protocol) ? httpProtocolOptions(port.protocol, policy.connectionPool, view.snapshot.mesh.h2UpgradePolicy === 'UPGRADE') : undefined;
  if (opts) c['typed_extension_protocol_options'] = opts;
  Object.assign(
    c,
    clusterTls({
      tls: policy.tls,
      host: svc.hostname,
      port: port.port,
      subset: subset?.name ?? '',
      sans: [],
      meshInternal: svc.location === 'MESH_INTERNAL',
      autoMtls: view.snapshot.mesh.enableAutoMtls && inferServiceMtlsMode(view.snapshot.configs, svc.namespace, view.snapshot.mesh.rootNamespace) !== 'DISABLE',
    }),
  );
  return c;
}

/** All outbound clusters for the services a proxy sees. */
export function outboundClusters(view: ProxyView): Json[] {
  const out: Json[] = [];
  for (const svc of view.services) {
    const dr = view.destinationRule(svc);
    for (const port of svc.ports) {
      out.push(outboundClusterFor(view, svc, port, undefined));
      for (const subset of dr?.subsets ?? []) out.push(outboundClusterFor(view, svc, port, subset));
    }
  }
  return out;
}

export function passthroughCluster(view: ProxyView): Json {
  return { name: PassthroughCluster, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: connectTimeout(view, undefined), circuit_breakers: circuitBreakers(undefined) };
}

export function blackHoleCluster(view: ProxyView): Json {
  return { name: BlackHoleCluster, type: 'STATIC', connect_timeout: connectTimeout(view, undefined) };
}

function inboundPassthroughCluster(view: ProxyView): Json {
  return { name: InboundPassthroughCluster, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: connectTimeout(view, undefined), circuit_breakers: circuitBreakers(undefined) };
}

/** Inbound clusters `inbound|<port>||` to the application on 127.0.0.1. */
export function inboundClusters(view: ProxyView): Json[] {
  return inboundPorts(view).map((p) => {
    const name = inboundCluster(p.targetPort);
    const c: Json = {
      name,
      type: 'STATIC',
      connect_timeout: connectTimeout(view, undefined),
      lb_policy: 'ROUND_ROBIN',
      load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress('127.0.0.1', p.targetPort) } }] }] },
      circuit_breakers: circuitBreakers(undefined),
    };
    const opts = isHttpProtocol(p.protocol) ? httpProtocolOptions(p.protocol, undefined) : undefined;
    if (opts) c['typed_extension_protocol_options'] = opts;
    return c;
  });
}

/** The clusters that do not depend on the proxy's own workload: special clusters and outbound clusters. */
export function sharedClusters(view: ProxyView): Json[] {
  const out = [passthroughCluster(view), blackHoleCluster(view), ...outboundClusters(view)];
  if (view.proxy.type === 'sidecar') out.push(inboundPassthroughCluster(view));
  return out;
}

/** The whole CDS response: shared clusters, and for sidecars the inbound clusters of their own workload. */
export function generateClusters(view: ProxyView): Json[] {
  return view.proxy.type === 'sidecar' ? [...sharedClusters(view), ...inboundClusters(view)] : sharedClusters(view);
}
