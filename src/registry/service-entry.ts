// ServiceEntry → services (one per host) and endpoints, as Istio's ServiceEntry controller does: inline endpoints,
// WorkloadEntries chosen by workloadSelector, or the host itself for DNS resolution without endpoints.
import type { Resource } from '../config/api/resource.ts';
import { resolveHost } from '../discovery/snapshot/hosts.ts';
import {
  type Endpoint,
  type MeshLocation,
  type Resolution,
  type Service,
  type ServicePort,
  labelsMatch,
  parseProtocol,
  protocolFromPortName,
} from '../discovery/snapshot/model.ts';
import type { PortSpec, ServiceEntrySpec, WorkloadEntrySpec } from './specs.ts';

/** Label on a workload that says it runs an Istio sidecar (mTLS capable). */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

/** A WorkloadEntry as the registry sees it, from config or from auto-registration. */
export interface Workload {
  name: string;
  namespace: string;
  spec: WorkloadEntrySpec;
}

function resolution(r: string | undefined): Resolution {
  return r === 'STATIC' || r === 'DNS' || r === 'DNS_ROUND_ROBIN' ? r : 'NONE';
}

function location(l: string | undefined): MeshLocation {
  return l === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL';
}

function servicePort(p: PortSpec): ServicePort {
  const protocol = p.protocol ? parseProtocol(p.protocol) : protocolFromPortName(p.name);
  return { name: p.name ?? String(p.number), port: p.number, protocol };
}

/** The endpoint for one (workload, service port), or undefined if the workload has no address. */
function workloadEndpoint(
  host: string,
  port: PortSpec,
  wl: WorkloadEntrySpec,
  namespace: string,
  workloadName: string,
  loc: MeshLocation,
): Endpoint | undefined {
  if (!wl.address) return undefined;
  const named = port.name !== undefined ? wl.ports?.[port.name] : undefined;
  const labels = wl.labels ?? {};
  return {
    serviceHost: host,
    servicePort: port.number,
    address: wl.address,
    port: named ?? port.targetPort ?? port.number,
    labels,
    serviceAccount: wl.serviceAccount ?? '',
    locality: wl.locality ?? '',
    weight: wl.weight && wl.weight > 0 ? wl.weight : 1,
    healthy: true,
    tlsMode: loc === 'MESH_INTERNAL' && labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled',
    namespace,
    workloadName,
  };
}

/** Selects the workloads of a namespace whose labels match a selector. */
export type WorkloadSelect = (namespace: string, selector: Readonly<Record<string, string>> | undefined) => readonly Workload[];

/** A WorkloadSelect over a list, indexed by namespace and label so that selection stays cheap at scale. */
export function workloadIndex(workloads: readonly Workload[]): WorkloadSelect {
  const byNs = new Map<string, Workload[]>();
  const byLabel = new Map<string, Workload[]>();
  const push = (m: Map<string, Workload[]>, k: string, w: Workload) => {
    const list = m.get(k);
    if (list) list.push(w);
    else m.set(k, [w]);
  };
  for (const w of workloads) {
    push(byNs, w.namespace, w);
    for (const [k, v] of Object.entries(w.spec.labels ?? {})) push(byLabel, `${w.namespace}/${k}=${v}`, w);
  }
  return (namespace, selector) => {
    const first = Object.entries(selector ?? {})[0];
    const candidates = first ? (byLabel.get(`${namespace}/${first[0]}=${first[1]}`) ?? []) : (byNs.get(namespace) ?? []);
    return candidates.filter((w) => labelsMatch(selector, w.spec.labels ?? {}));
  };
}

/** Convert one ServiceEntry. `select` finds WorkloadEntries (config and auto-registered) for a workloadSelector. */
export function serviceEntryToModel(
  se: Resource<ServiceEntrySpec>,
  select: WorkloadSelect,
  domainSuffix: string,
): { services: Service[]; endpoints: Endpoint[] } {
  const spec = se.spec;
  const namespace = se.metadata.namespace ?? 'default';
  const res = resolution(spec.resolution);
  const loc = location(spec.location);
  const ports = (spec.ports ?? []).map(servicePort);
  const services: Service[] = [];
  const endpoints: Endpoint[] = [];
  for (const rawHost of spec.hosts ?? []) {
    const hostname = resolveHost(rawHost, namespace, domainSuffix);
    services.push({
      hostname,
      namespace,
      name: se.metadata.name,
      source: 'ServiceEntry',
      addresses: spec.addresses ?? [],
      ports,
      resolution: res,
      location: loc,
      exportTo: spec.exportTo ?? [],
      labels: se.metadata.labels ?? {},
    });
    for (const port of spec.ports ?? []) {
      if (spec.workloadSelector) {
        for (const w of select(namespace, spec.workloadSelector.labels)) {
          const ep = workloadEndpoint(hostname, port, w.spec, namespace, w.name, loc);
          if (ep) endpoints.push(ep);
        }
      } else if (spec.endpoints && spec.endpoints.length > 0) {
        spec.endpoints.forEach((e, i) => {
          const ep = workloadEndpoint(hostname, port, e, namespace, `${se.metadata.name}-${i}`, loc);
          if (ep) endpoints.push(ep);
        });
      } else if ((res === 'DNS' || res === 'DNS_ROUND_ROBIN') && !hostname.startsWith('*')) {
        // DNS without endpoints: Envoy resolves the host itself.
        const ep = workloadEndpoint(hostname, port, { address: hostname }, namespace, se.metadata.name, loc);
        if (ep) endpoints.push(ep);
      }
    }
  }
  return { services, endpoints };
}
