// MeshConfig (istio.mesh.v1alpha1.MeshConfig) and its ProxyConfig, typed for the fields Weft reads, with Istio's
// field names. Durations are Go duration strings as written in the mesh config (`10s`); other Istio fields are
// kept as given (the index signatures) so that a mesh config written for Istio loads unchanged.

/** Mode of the sidecar for traffic to hosts not in the service registry. */
export type OutboundTrafficPolicyMode = 'REGISTRY_ONLY' | 'ALLOW_ANY';

export interface ProxyConfig {
  /** Where the proxy writes its generated bootstrap; default `./etc/istio/proxy`. */
  configPath: string;
  /** Path of the proxy binary; default `/usr/local/bin/envoy` (Weft runs its own proxy, the field is kept for compatibility). */
  binaryPath: string;
  /** Service cluster name reported by the proxy; default `istio-proxy`. */
  serviceCluster: string;
  /** Time the proxy drains connections on a hot restart or config change; default 45s. */
  drainDuration: string;
  /** Time the proxy keeps serving in-flight requests after SIGTERM; default 5s. */
  terminationDrainDuration: string;
  /** Control plane address (host:port) the proxy connects to for xDS and certificates; default `istiod.istio-system.svc:15012`. */
  discoveryAddress: string;
  /** Port of the proxy's admin interface (localhost only); default 15000. */
  proxyAdminPort: number;
  /** Port of the agent's status server (readiness, merged metrics); default 15020. */
  statusPort: number;
  /** How the proxy authenticates to the control plane: MUTUAL_TLS (default) or NONE. */
  controlPlaneAuthPolicy: 'NONE' | 'MUTUAL_TLS' | 'INHERIT';
  /** Longest stat name; default 189. */
  statNameLength: number;
  /** Worker threads; 0 = one per CPU; default unset (2 in Istio's sidecar injector). */
  concurrency?: number;
  /** Start the app only after the proxy is ready; default false. */
  holdApplicationUntilProxyStarts?: boolean;
  /** Environment-style metadata sent to the control plane (`ISTIO_META_*`). Merged, not replaced, when set. */
  proxyMetadata?: Record<string, string>;
  /** Mesh id for multi-mesh setups; default the trust domain. */
  meshId?: string;
  /** Tracing settings of the proxy (zipkin, datadog, lightstep …, sampling). */
  tracing?: Record<string, unknown>;
  [field: string]: unknown;
}

/** A named provider of an extension: ext-authz, tracing, metrics or access logging backends. */
export interface ExtensionProvider {
  /** Name referenced from AuthorizationPolicy `provider.name` and Telemetry `providers[].name`; unique. */
  name: string;
  /** The provider's settings, under its type key (`envoyExtAuthzHttp`, `envoyExtAuthzGrpc`, `opentelemetry`, `zipkin`, `prometheus`, `envoyFileAccessLog` …). */
  [providerType: string]: unknown;
}

export interface MeshConfig {
  /** Port the sidecar's outbound listener captures; default 15001. */
  proxyListenPort: number;
  /** Port the sidecar's inbound listener captures; default 15006. */
  proxyInboundListenPort: number;
  /** Timeout of upstream connection attempts; default 10s. */
  connectTimeout: string;
  /** Time to wait for the client's first bytes when sniffing the protocol; 0s disables; default 0s. */
  protocolDetectionTimeout: string;
  /** Ingress controller settings (Kubernetes Ingress support). */
  ingressService: string;
  ingressClass: string;
  ingressControllerMode: 'UNSPECIFIED' | 'OFF' | 'DEFAULT' | 'STRICT';
  /** Report traces; default true. */
  enableTracing: boolean;
  /** Access log destination; "" disables, `/dev/stdout` logs to standard output; default "". */
  accessLogFile: string;
  /** Access log line format; "" = Istio's default format. */
  accessLogFormat: string;
  /** TEXT (default) or JSON access logs. */
  accessLogEncoding: 'TEXT' | 'JSON';
  /** Stream access logs over gRPC ALS; default false. */
  enableEnvoyAccessLogService: boolean;
  /** Defaults for every proxy; merged field by field with what the mesh config sets. */
  defaultConfig: ProxyConfig;
  /** What happens to traffic for hosts outside the registry; default ALLOW_ANY. */
  outboundTrafficPolicy: { mode: OutboundTrafficPolicyMode };
  /** PASSTHROUGH (default) or LOCALHOST: where inbound traffic is delivered. */
  inboundTrafficPolicy: { mode: 'PASSTHROUGH' | 'LOCALHOST' };
  /** Use mTLS automatically to peers that have a sidecar; default true. */
  enableAutoMtls: boolean;
  /** SPIFFE trust domain of workload identities; default `cluster.local`. */
  trustDomain: string;
  /** Other trust domains whose identities are treated as this one; merged with the defaults. */
  trustDomainAliases: string[];
  /** Namespace holding mesh-wide config (policies there apply to the whole mesh); default `istio-system`. */
  rootNamespace: string;
  /** Locality load balancing; default `{ enabled: true }`. */
  localityLbSetting: Record<string, unknown>;
  /** Re-resolution period of DNS ServiceEntries when resolution fails; default 60s. */
  dnsRefreshRate: string;
  /** Default exportTo of Services, VirtualServices, DestinationRules; default ["*"]. */
  defaultServiceExportTo: string[];
  defaultVirtualServiceExportTo: string[];
  defaultDestinationRuleExportTo: string[];
  /** Merge the app's Prometheus metrics into the proxy's; default true. */
  enablePrometheusMerge: boolean;
  /** Providers used when a Telemetry names none: `metrics`, `tracing`, `accessLogging` lists of provider names. */
  defaultProviders: { metrics?: string[]; tracing?: string[]; accessLogging?: string[] };
  /** Named extension providers; the defaults `prometheus`, `stackdriver`, `envoy` are kept unless replaced by name. */
  extensionProviders: ExtensionProvider[];
  /** Default retry policy of HTTP routes without one: attempts (default 2), perTryTimeout, retryOn. */
  defaultHttpRetryPolicy?: { attempts?: number; perTryTimeout?: string; retryOn?: string; retryRemoteLocalities?: boolean };
  /** Restrict the namespaces the control plane watches (Kubernetes label selectors). */
  discoverySelectors?: unknown[];
  /** TLS settings of mesh mTLS (minProtocolVersion …). */
  meshMTLS?: Record<string, unknown>;
  [field: string]: unknown;
}
