// The xDS Node this proxy presents: Istio's node id and the node metadata istiod reads (NAMESPACE, LABELS,
// SERVICE_ACCOUNT, INSTANCE_IPS, AUTO_REGISTER_GROUP …), converted to google.protobuf.Struct as proto-loader
// expects it on the wire.
import { formatNodeId, type ProxyType } from '../../core/names/node-id.ts';

export interface NodeIdentity {
  type: ProxyType;
  /** The workload's IP (first of INSTANCE_IPS). */
  ip: string;
  /** Pod or workload name. */
  name: string;
  namespace: string;
  /** DNS domain, default `<namespace>.svc.cluster.local`. */
  dnsDomain?: string;
  /** Explicit node id (overrides the formatted one). */
  id?: string;
  labels: Record<string, string>;
  serviceAccount: string;
  instanceIps: string[];
  /** WorkloadGroup name for auto-registration (Istio's VM flow). */
  autoRegisterGroup?: string;
  clusterId?: string;
  meshId?: string;
  /** The workload's named ports (port name → container port), sent as Istio's POD_PORTS for auto-registration. */
  podPorts?: Record<string, number>;
  /** Interception mode: NONE for explicit (HTTP proxy) mode, REDIRECT for iptables capture. */
  interceptionMode?: 'NONE' | 'REDIRECT' | 'TPROXY';
}

export function nodeId(n: NodeIdentity): string {
  return n.id ?? formatNodeId({ type: n.type, ip: n.ip, name: n.name, namespace: n.namespace, dnsDomain: n.dnsDomain ?? `${n.namespace}.svc.cluster.local` });
}

/** Node metadata as plain JSON (what `weft proxy-status` and the admin config_dump show). */
export function nodeMetadata(n: NodeIdentity, version: string): Record<string, unknown> {
  const md: Record<string, unknown> = {
    NAMESPACE: n.namespace,
    LABELS: n.labels,
    SERVICE_ACCOUNT: n.serviceAccount,
    INSTANCE_IPS: n.instanceIps.join(','),
    NAME: n.name,
    WORKLOAD_NAME: n.labels['app'] ?? n.name,
    CLUSTER_ID: n.clusterId ?? 'Kubernetes',
    MESH_ID: n.meshId ?? 'cluster.local',
    ISTIO_VERSION: version,
    INTERCEPTION_MODE: n.interceptionMode ?? 'NONE',
    PROXY_TYPE: n.type,
    WEFT_PROXY: 'true',
  };
  if (n.autoRegisterGroup) md['AUTO_REGISTER_GROUP'] = n.autoRegisterGroup;
  if (n.podPorts && Object.keys(n.podPorts).length > 0) {
    md['POD_PORTS'] = JSON.stringify(Object.entries(n.podPorts).map(([name, containerPort]) => ({ name, containerPort, protocol: 'TCP' })));
  }
  return md;
}

/**
 * google.protobuf.Value in proto-loader's object form. protobufjs ships its own google/protobuf/struct.proto whose
 * field names are camelCase (stringValue …), so these keys stay camelCase even with keepCase.
 */
type StructValue =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: ProtoStruct }
  | { listValue: { values: StructValue[] } };

export interface ProtoStruct {
  fields: Record<string, StructValue>;
}

export function toStruct(obj: Record<string, unknown>): ProtoStruct {
  const fields: Record<string, StructValue> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) fields[k] = toValue(v);
  return { fields };
}

function toValue(v: unknown): StructValue {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  if (typeof v === 'object') return { structValue: toStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}

/** proto-loader Struct back to plain JSON (for tests and the server side of tests). */
export function fromStruct(s: ProtoStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v);
  return out;
}

function fromValue(v: StructValue): unknown {
  // proto-loader (oneofs: true) names the set member in `kind`; with defaults every member is present.
  const r = v as unknown as Record<string, unknown>;
  const kind = typeof r['kind'] === 'string' ? r['kind'] : Object.keys(r).find((k) => k.endsWith('Value'));
  if (kind === undefined) return null;
  const x = r[kind];
  if (kind === 'structValue') return fromStruct(x as ProtoStruct);
  if (kind === 'listValue') return (x as { values: StructValue[] }).values.map(fromValue);
  return kind === 'nullValue' ? null : x;
}
