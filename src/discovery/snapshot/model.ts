// The service model the registry produces and the snapshot indexes: services (one per host) and their endpoints.
// Registry adapters (ServiceEntry, WorkloadEntry, Kubernetes) convert their inputs into these types at the edge;
// translation reads only these, never the raw kinds.

/** Istio's port protocols. `UNKNOWN` means "detect": Weft treats it as TCP on outbound listeners. */
export type Protocol = 'HTTP' | 'HTTP2' | 'GRPC' | 'GRPC-WEB' | 'HTTPS' | 'TLS' | 'TCP' | 'MONGO' | 'REDIS' | 'MYSQL' | 'UNKNOWN';

const protocols: readonly Protocol[] = ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTPS', 'TLS', 'TCP', 'MONGO', 'REDIS', 'MYSQL', 'UNKNOWN'];

/** Parse a protocol name case-insensitively (Istio accepts `http`, `Http` …); anything else is UNKNOWN. */
export function parseProtocol(name: string | undefined): Protocol {
  if (name === undefined) return 'UNKNOWN';
  const upper = name.toUpperCase();
  return (protocols as readonly string[]).includes(upper) ? (upper as Protocol) : 'UNKNOWN';
}

/** Istio's port-name convention: `http`, `http-web`, `grpc-api` … name the protocol before the first dash. */
export function protocolFromPortName(name: string | undefined): Protocol {
  if (name === undefined || name === '') return 'UNKNOWN';
  const dash = name.indexOf('-');
  return parseProtocol(dash < 0 ? name : name.slice(0, dash));
}

/** True for protocols that get an HTTP connection manager (and therefore RDS). */
export function isHttpProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB';
}

/** True for protocols whose upstream connections must speak HTTP/2. */
export function isHttp2Protocol(p: Protocol): boolean {
  return p === 'HTTP2' || p === 'GRPC';
}

export interface ServicePort {
  /** Port name, e.g. `http`. */
  name: string;
  /** The service port clients connect to. */
  port: number;
  protocol: Protocol;
}

/** How endpoints of a service are found (ServiceEntry.resolution). Kubernetes services are STATIC (EDS). */
export type Resolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

/** MESH_INTERNAL services have sidecars (mTLS possible); MESH_EXTERNAL services do not. */
export type MeshLocation = 'MESH_INTERNAL' | 'MESH_EXTERNAL';

export type ServiceSource = 'ServiceEntry' | 'Kubernetes';

export interface Service {
  /** Fully qualified host name (`reviews.default.svc.cluster.local`, `www.googleapis.com`, or a wildcard). */
  hostname: string;
  /** Namespace of the config that defined the service. */
  namespace: string;
  /** Name of the defining object (ServiceEntry or Kubernetes Service). */
  name: string;
  source: ServiceSource;
  /** Virtual IPs (Kubernetes clusterIP, ServiceEntry addresses); may be empty. */
  addresses: readonly string[];
  ports: readonly ServicePort[];
  resolution: Resolution;
  location: MeshLocation;
  /** exportTo as written (`*`, `.`, `~` or namespaces); empty means the mesh default. */
  exportTo: readonly string[];
  /** Labels of the defining object. */
  labels: Readonly<Record<string, string>>;
}

/** TLS capability of an endpoint: `istio` when it runs a sidecar that accepts Istio mTLS. */
export type EndpointTlsMode = 'istio' | 'disabled';

export interface Endpoint {
  /** Host of the service this endpoint belongs to. */
  serviceHost: string;
  /** The service port (not the target port) this endpoint serves. */
  servicePort: number;
  /** IP address, or a DNS name for DNS-resolved ServiceEntries. */
  address: string;
  /** The port on the endpoint itself (target port). */
  port: number;
  /** Workload labels; DestinationRule subsets select on these. */
  labels: Readonly<Record<string, string>>;
  /** Service account of the workload, when known. */
  serviceAccount: string;
  /** `region/zone/subzone`, empty when unknown. */
  locality: string;
  /** Load-balancing weight, ≥ 1. */
  weight: number;
  healthy: boolean;
  tlsMode: EndpointTlsMode;
  /** Namespace of the workload. */
  namespace: string;
  /** Name of the workload (Pod, WorkloadEntry). */
  workloadName: string;
}

/** Everything the registry knows, as plain data. */
export interface RegistryState {
  services: readonly Service[];
  endpoints: readonly Endpoint[];
}

/** The key of an endpoint set: service host and service port. */
export function endpointKey(host: string, port: number): string {
  return `${host}|${port}`;
}

/** True when every label in `selector` is present with the same value in `labels`. Empty selectors match all. */
export function labelsMatch(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

/** Name of an auto-registered WorkloadEntry, as Istio: `<group>-<ip>` with the address made DNS-label safe. */
export function autoRegisteredName(group: string, ip: string): string {
  return `${group}-${ip.replace(/[.:]/g, '-')}`;
}
