// The Kubernetes objects the mesh reads, typed for the fields it uses (field names as in the Kubernetes API).
// In a loaded Resource, `spec` holds the object's spec; EndpointSlice and ServiceAccount have no spec, so their
// top-level fields (other than apiVersion, kind, metadata) are in `spec`. A Pod's status stays in `status`.

export type KubeProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  /** Port name (DNS label); required when the Service has more than one port. Istio reads the protocol from its prefix (`http-`, `grpc-` …). */
  name?: string;
  /** L4 protocol; default TCP. */
  protocol?: KubeProtocol;
  /** Application protocol (`http`, `grpc`, `kubernetes.io/h2c` …); takes precedence over the name for Istio. */
  appProtocol?: string;
  /** The Service's port, 1–65535. */
  port: number;
  /** The Pod's port: a number, or the name of a container port; default `port`. */
  targetPort?: number | string;
  /** Node port for NodePort and LoadBalancer Services. */
  nodePort?: number;
}

export interface ServiceSpec {
  /** Pods with all these labels back the Service; absent = endpoints are managed by hand. */
  selector?: Record<string, string>;
  ports?: ServicePort[];
  /** Virtual IP; `None` for a headless Service. */
  clusterIP?: string;
  clusterIPs?: string[];
  /** ClusterIP (default), NodePort, LoadBalancer or ExternalName. */
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** DNS name an ExternalName Service aliases. */
  externalName?: string;
}

export interface ContainerPort {
  /** IANA service name (≤ 15 characters); a Service targetPort may refer to it. */
  name?: string;
  /** Port the container listens on, 1–65535. */
  containerPort: number;
  protocol?: KubeProtocol;
}

export interface Container {
  /** DNS label, unique in the Pod. */
  name: string;
  image?: string;
  ports?: ContainerPort[];
}

export interface PodSpec {
  /** The Pod's identity; default `default`. Becomes the SPIFFE id's `sa` part. */
  serviceAccountName?: string;
  containers: Container[];
  initContainers?: Container[];
  hostNetwork?: boolean;
}

export interface PodStatus {
  /** The Pod's IP, once scheduled. */
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  phase?: string;
  conditions?: Array<{ type?: string; status?: string }>;
}

export interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
}

export interface EndpointSliceBody {
  /** IPv4, IPv6 or FQDN: the kind of every address in the slice. */
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints?: Array<{
    /** 1–100 addresses of one endpoint, of `addressType`. */
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    targetRef?: { kind?: string; name?: string; namespace?: string };
    nodeName?: string;
    zone?: string;
  }>;
  ports?: Array<{ name?: string; port?: number; protocol?: KubeProtocol; appProtocol?: string }>;
}

export interface NamespaceSpec {
  finalizers?: string[];
}

export interface ServiceAccountBody {
  automountServiceAccountToken?: boolean;
  secrets?: Array<{ name?: string }>;
  imagePullSecrets?: Array<{ name?: string }>;
}
