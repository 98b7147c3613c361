// EDS: one ClusterLoadAssignment per EDS cluster (`outbound|port|subset|host`), endpoints grouped by locality
// with weights and health, subsets chosen by the DestinationRule's labels, and Istio's tlsMode metadata that
// drives auto-mTLS transport-socket matching.
import { outboundCluster, parseClusterName } from '../../core/names/cluster-name.ts';
import { type Endpoint, labelsMatch } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';
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

/** A ClusterLoadAssignment for `clusterName` from a list of endpoints. */
export function loadAssignment(clusterName: string, endpoints: readonly Endpoint[], withMetadata: boolean): Json {
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
  return {
    cluster_name: clusterName,
    endpoints: localities.map((l) => {
      const eps = byLocality.get(l)!;
      return {
        locality: locality(l),
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

/** The endpoints of one outbound cluster name, or undefined when the name is not an outbound EDS cluster the proxy sees. */
export function clusterEndpoints(view: ProxyView, clusterName: string): readonly Endpoint[] | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed.ok || parsed.value.direction !== 'outbound') return undefined;
  const { host, port, subset } = parsed.value;
  const svc = view.serviceByHost(host);
  if (!svc || svc.resolution !== 'STATIC' || !svc.ports.some((p) => p.port === port)) return undefined;
  const eps = view.endpoints(host, port);
  if (subset === '') return eps;
  const s = view.destinationRule(svc)?.subsets.find((x) => x.name === subset);
  if (!s) return undefined;
  return eps.filter((e) => labelsMatch(s.labels, e.labels));
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
    const eps = clusterEndpoints(view, name);
    if (eps) out.push(loadAssignment(name, eps, withMetadata));
  }
  return out;
}
