// EDS: one ClusterLoadAssignment per EDS cluster (`outbound|port|subset|host`), endpoints grouped by locality
// with weights and health, subsets chosen by the DestinationRule's labels, and Istio's tlsMode metadata that
// drives auto-mTLS transport-socket matching.
import { outboundCluster, parseClusterName } from '../../core/names/cluster-name.ts';
import { type Endpoint, labelsMatch } from '../snapshot/model.ts';
import type { ProxyLocality } from '../proxy.ts';
import type { ProxyView } from '../snapshot/view.ts';
import { resolvePortPolicy } from './cluster-policy.ts';
import { sharedResource } from './cache.ts';
import { type Json, socketAddress, struct, u32 } from './common.ts';

function locality(l: string): Json {
  const [region = '', zone = '', subZone = ''] = l.split('/');
  const out: Json = {};
  if (region) out['region'] = region;
  if (zone) out['zone'] = zone;
  if (subZone) out['sub_zone'] = subZone;
  return out;
}

/**
 * Istio's endpoint metadata `istio.workload`: `name;namespace;canonical service;canonical revision;cluster`, which the
 * proxy's telemetry turns into destination_workload / destination_canonical_* labels.
 */
export function workloadMetadata(e: Endpoint): string {
  const service = e.labels['service.istio.io/canonical-name'] ?? e.labels['app.kubernetes.io/name'] ?? e.labels['app'] ?? e.workloadName;
  const revision = e.labels['service.istio.io/canonical-revision'] ?? e.labels['app.kubernetes.io/version'] ?? e.labels['version'] ?? 'latest';
  return `${e.workloadName};${e.namespace};${service};${revision};Kubernetes`;
}

/**
 * Locality failover priority of an endpoint locality relative to the proxy's, as Istio's default: 0 same
 * region/zone/subzone, 1 same region/zone, 2 same region, 3 elsewhere. Applied when outlier detection is on.
 */
export function localityPriority(proxy: ProxyLocality, endpointLocality: string): number {
  const [region = '', zone = '', subZone = ''] = endpointLocality.split('/');
  if (region !== proxy.region) return 3;
  if (zone !== proxy.zone) return 2;
  if (subZone !== proxy.subZone) return 1;
  return 0;
}

/** A ClusterLoadAssignment for `clusterName` from a list of endpoints, with failover priorities when `failoverFrom` is given. */
export function loadAssignment(clusterName: string, endpoints: readonly Endpoint[], withMetadata: boolean, failoverFrom?: ProxyLocality): Json {
  const byLocality = new Map<string, Endpoint[]>();
  const seen = new Set<string>();
  for (const e of endpoints) {
    // Duplicate addresses (two services selecting one workload) would be rejected by strict clients such as gRPC.
    const key = `${e.address}:${e.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = byLocality.get(e.locality) ?? [];
    list.push(e);
    byLocality.set(e.locality, list);
  }
  const localities = [...byLocality.keys()].sort();
  // Priorities must be contiguous from 0 (gRPC rejects gaps), so rank the raw priorities that occur.
  const raw = new Map(localities.map((l) => [l, failoverFrom ? localityPriority(failoverFrom, l) : 0]));
  const ranks = [...new Set(raw.values())].sort((a, b) => a - b);
  return {
    cluster_name: clusterName,
    endpoints: localities.map((l) => {
      const eps = byLocality.get(l)!;
      const priority = ranks.indexOf(raw.get(l)!);
      return {
        locality: locality(l),
        ...(priority > 0 ? { priority } : {}),
        lb_endpoints: eps.map((e) => {
          const lb: Json = {
            endpoint: { address: socketAddress(e.address, e.port) },
            health_status: e.healthy ? 'HEALTHY' : 'UNHEALTHY',
            load_balancing_weight: u32(e.weight),
          };
          if (withMetadata) {
            lb['metadata'] = { filter_metadata: { 'envoy.transport_socket_match': struct({ tlsMode: e.tlsMode }), istio: struct({ workload: workloadMetadata(e) }) } };
          }
          return lb;
        }),
        load_balancing_weight: u32(eps.reduce((s, e) => s + e.weight, 0)),
      };
    }),
  };
}

/** The endpoints of one outbound EDS cluster, and whether locality failover applies to it. */
export interface ClusterEndpoints {
  endpoints: readonly Endpoint[];
  /** `namespace/name` of the DestinationRules that decided subset and policy (part of the sharing key). */
  rules: readonly string[];
  /** Outlier detection is on and locality load balancing not disabled: prefer the proxy's own locality. */
  failover: boolean;
}

/** The endpoints of one outbound cluster name, or undefined when the name is not an outbound EDS cluster the proxy sees. */
export function clusterEndpoints(view: ProxyView, clusterName: string): ClusterEndpoints | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed.ok || parsed.value.direction !== 'outbound') return undefined;
  const { host, port, subset } = parsed.value;
  const svc = view.serviceByHost(host);
  if (!svc || svc.resolution !== 'STATIC' || !svc.ports.some((p) => p.port === port)) return undefined;
  const dr = view.destinationRule(svc);
  const s = subset === '' ? undefined : dr?.subsets.find((x) => x.name === subset);
  if (subset !== '' && !s) return undefined;
  const policy = resolvePortPolicy(dr?.trafficPolicy, s?.trafficPolicy, port);
  const failover = policy.outlierDetection !== undefined && policy.loadBalancer?.localityLbSetting?.enabled !== false && view.proxy.locality.region !== '';
  const eps = view.endpoints(host, port);
  return { endpoints: s ? eps.filter((e) => labelsMatch(s.labels, e.labels)) : eps, failover, rules: dr?.sources ?? [] };
}

function parseClusterHost(name: string): string {
  const p = parseClusterName(name);
  return p.ok ? p.value.host : '';
}

/** Names of every EDS cluster the proxy has. */
export function edsClusterNames(view: ProxyView): string[] {
  const names: string[] = [];
  for (const svc of view.services) {
    if (svc.resolution !== 'STATIC') continue;
    const subsets = view.destinationRule(svc)?.subsets ?? [];
    for (const p of svc.ports) {
      names.push(outboundCluster(svc.hostname, p.port));
      for (const s of subsets) names.push(outboundCluster(svc.hostname, p.port, s.name));
    }
  }
  return names;
}

/** EDS response: the requested clusters (or all), healthy and unhealthy endpoints both sent, as Istio does. */
export function generateEndpoints(view: ProxyView, requested: readonly string[] | undefined, withMetadata: boolean): Json[] {
  const names = requested && requested.length > 0 ? requested : edsClusterNames(view);
  const out: Json[] = [];
  for (const name of names) {
    const ce = clusterEndpoints(view, name);
    if (!ce) continue;
    const from = ce.failover ? view.proxy.locality : undefined;
    const key = { kind: 'eds', name, rules: ce.rules, from: from ?? null, withMetadata, ns: view.serviceByHost(parseClusterHost(name))?.namespace ?? '' };
    out.push(sharedResource(view.snapshot, key, () => loadAssignment(name, ce.endpoints, withMetadata, from)));
  }
  return out;
}
