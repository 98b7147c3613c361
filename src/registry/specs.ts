// The fields of ServiceEntry, WorkloadEntry, WorkloadGroup and the Kubernetes core kinds that the registry reads,
// named as in Istio's and Kubernetes' APIs. Input arrives already validated by the config API; these readers
// only pick fields, tolerating absence, so the registry works with whichever spec types the config layer defines.

export interface PortSpec {
  number: number;
  protocol?: string;
  name?: string;
  targetPort?: number;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface ServiceEntrySpec {
  hosts?: string[];
  addresses?: string[];
  ports?: PortSpec[];
  location?: string;
  resolution?: string;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

export interface WorkloadGroupSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  template?: WorkloadEntrySpec;
}

export interface KubeServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface KubeServiceSpec {
  selector?: Record<string, string>;
  ports?: KubeServicePort[];
  clusterIP?: string;
  type?: string;
  externalName?: string;
}

export interface KubePodSpec {
  serviceAccountName?: string;
  containers?: Array<{ name?: string; ports?: Array<{ name?: string; containerPort: number; protocol?: string }> }>;
}

export interface KubePodStatus {
  podIP?: string;
  phase?: string;
  conditions?: Array<{ type?: string; status?: string }>;
}

export interface EndpointSliceBody {
  addressType?: string;
  endpoints?: Array<{
    addresses?: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    targetRef?: { kind?: string; name?: string; namespace?: string };
    zone?: string;
    nodeName?: string;
  }>;
  ports?: Array<{ name?: string; port?: number; protocol?: string; appProtocol?: string }>;
}

/** Read a field that Kubernetes keeps at the top level of an object (EndpointSlice) whether the loader put it there, in `body`, or in `spec`. */
export function topLevel<T>(r: object, key: string): T | undefined {
  const rec = r as Record<string, unknown>;
  if (rec[key] !== undefined) return rec[key] as T;
  const body = rec['body'];
  if (body && typeof body === 'object' && (body as Record<string, unknown>)[key] !== undefined) return (body as Record<string, unknown>)[key] as T;
  const spec = rec['spec'];
  if (spec && typeof spec === 'object') return (spec as Record<string, unknown>)[key] as T | undefined;
  return undefined;
}
