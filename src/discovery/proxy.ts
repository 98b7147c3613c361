// The Proxy model: who is asking for config. Built once per xDS connection from the Node message
// (id in Istio's `type~ip~name.ns~domain` form, plus Istio's node metadata), then handed to translation.
// Proxyless gRPC clients (@grpc/grpc-js-xds) may send any id; they are recognised by GENERATOR or user agent.
import { type Result, ok, err } from '../core/result.ts';
import { parseNodeId, type ProxyType } from '../core/names/node-id.ts';

/** Which generator serves the proxy: Envoy-style sidecar/gateway config, or Istio's `grpc` generator (proxyless). */
export type ProxyGenerator = 'envoy' | 'grpc';

/** How traffic reaches the sidecar (Istio INTERCEPTION_MODE); NONE means explicit (the app uses the proxy directly). */
export type InterceptionMode = 'REDIRECT' | 'TPROXY' | 'NONE';

export interface ProxyLocality {
  region: string;
  zone: string;
  subZone: string;
}

export interface Proxy {
  /** The node id exactly as sent. */
  id: string;
  /** `sidecar` or `router` (gateway). Proxyless clients count as sidecars. */
  type: ProxyType;
  generator: ProxyGenerator;
  /** The proxy's IP addresses: INSTANCE_IPS, else the IP in the node id. May be empty for proxyless clients. */
  ipAddresses: readonly string[];
  /** Pod or workload instance name from the node id (or the raw id for proxyless clients). */
  name: string;
  namespace: string;
  /** DNS domain from the node id, e.g. `default.svc.cluster.local`. */
  dnsDomain: string;
  labels: Readonly<Record<string, string>>;
  /** Service account name (not the SPIFFE id); `default` when not given. */
  serviceAccount: string;
  /** Workload name (Deployment or WorkloadGroup member), when given. */
  workloadName: string;
  /** WorkloadGroup name to auto-register into (Istio AUTO_REGISTER_GROUP), when given. */
  autoRegisterGroup: string;
  /** CLUSTER_ID, `Kubernetes` by default as in Istio. */
  clusterId: string;
  istioVersion: string;
  interceptionMode: InterceptionMode;
  locality: ProxyLocality;
  /** The named ports the workload serves (Istio metadata `POD_PORTS` or WorkloadGroup template), service-port → target. */
  workloadPorts: Readonly<Record<string, number>>;
}

/** The Node message fields Weft reads (google.protobuf.Struct metadata as a plain object). */
export interface NodeInput {
  id: string;
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string } | null;
  user_agent_name?: string;
}

function str(md: Record<string, unknown>, key: string): string {
  const v = md[key];
  return typeof v === 'string' ? v : '';
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  let obj = v;
  if (typeof v === 'string' && v.startsWith('{')) {
    try {
      obj = JSON.parse(v) as unknown;
    } catch {
      return out;
    }
  }
  if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, val] of Object.entries(obj)) if (typeof val === 'string') out[k] = val;
  }
  return out;
}

/** Istio's POD_PORTS is a JSON string of `[{name, containerPort, protocol}]`; also accept an object name → port. */
function workloadPorts(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  let obj = v;
  if (typeof v === 'string') {
    try {
      obj = JSON.parse(v) as unknown;
    } catch {
      return out;
    }
  }
  if (Array.isArray(obj)) {
    for (const p of obj) {
      if (p && typeof p === 'object') {
        const rec = p as Record<string, unknown>;
        const port = Number(rec['containerPort']);
        const name = typeof rec['name'] === 'string' ? rec['name'] : String(port);
        if (Number.isInteger(port) && port > 0) out[name] = port;
      }
    }
  } else if (obj && typeof obj === 'object') {
    for (const [k, val] of Object.entries(obj)) {
      const port = Number(val);
      if (Number.isInteger(port) && port > 0) out[k] = port;
    }
  }
  return out;
}

/** Istio's INTERCEPTION_MODE; anything else (or absent) is REDIRECT, Istio's default. */
function interception(v: string): InterceptionMode {
  return v === 'TPROXY' || v === 'NONE' ? v : 'REDIRECT';
}

/**
 * Parse an xDS Node into a Proxy. Envoy-style nodes must carry an Istio node id; a node that says GENERATOR=grpc,
 * or whose user agent is gRPC, may carry any non-empty id (its namespace then comes from NAMESPACE or `default`).
 */
export function parseProxy(node: NodeInput): Result<Proxy, string> {
  const md = node.metadata ?? {};
  const generatorMd = str(md, 'GENERATOR');
  const grpcAgent = (node.user_agent_name ?? '').toLowerCase().startsWith('grpc');
  const generator: ProxyGenerator = generatorMd === 'grpc' || (generatorMd === '' && grpcAgent) ? 'grpc' : 'envoy';
  if (node.id === '') return err('node id is empty: set node.id in the bootstrap (sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local)');
  const parsed = parseNodeId(node.id);
  if (!parsed.ok && generator !== 'grpc') return err(parsed.error);
  const idPart = parsed.ok ? parsed.value : undefined;
  const namespace = str(md, 'NAMESPACE') || idPart?.namespace || 'default';
  const instanceIps = str(md, 'INSTANCE_IPS')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const ips = instanceIps.length > 0 ? instanceIps : idPart && idPart.ip !== '' ? [idPart.ip] : [];
  const loc = node.locality ?? {};
  return ok({
    id: node.id,
    type: idPart?.type ?? 'sidecar',
    generator,
    ipAddresses: ips,
    name: idPart?.name ?? node.id,
    namespace,
    dnsDomain: idPart?.dnsDomain ?? `${namespace}.svc.cluster.local`,
    labels: stringMap(md['LABELS']),
    serviceAccount: str(md, 'SERVICE_ACCOUNT') || 'default',
    workloadName: str(md, 'WORKLOAD_NAME'),
    autoRegisterGroup: str(md, 'AUTO_REGISTER_GROUP'),
    clusterId: str(md, 'CLUSTER_ID') || 'Kubernetes',
    istioVersion: str(md, 'ISTIO_VERSION'),
    interceptionMode: interception(str(md, 'INTERCEPTION_MODE')),
    locality: { region: loc.region ?? '', zone: loc.zone ?? '', subZone: loc.sub_zone ?? '' },
    workloadPorts: workloadPorts(md['POD_PORTS'] ?? md['WORKLOAD_PORTS']),
  });
}
