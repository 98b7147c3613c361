// DestinationRule spec types: policies applied to traffic for a service after routing (load balancing, connection
// pools, outlier detection, TLS origination), per port and per named subset of its endpoints.
import type { ClientTLSSettings, ConnectionPoolSettings, Duration, PortSelector, TypeWorkloadSelector } from './shared.ts';

export interface DestinationRuleSpec {
  /** Service the rule applies to (FQDN, short name resolved in the rule's namespace, or `*.suffix`). Required. */
  host: string;
  /** Policies for all traffic to the host. */
  trafficPolicy?: TrafficPolicy;
  /** Named subsets of the host's endpoints (by labels), each optionally with its own policy. */
  subsets?: Subset[];
  /** Namespaces this rule is visible to (`.`, `*`, names); default all. */
  exportTo?: string[];
  /** Apply the rule only to these workloads (sidecars) in the rule's namespace; exportTo must then be `.` only. */
  workloadSelector?: TypeWorkloadSelector;
}

export interface TrafficPolicy {
  /** Load-balancing algorithm. */
  loadBalancer?: LoadBalancerSettings;
  /** Connection and request limits (circuit breaking). */
  connectionPool?: ConnectionPoolSettings;
  /** Ejection of unhealthy endpoints. */
  outlierDetection?: OutlierDetection;
  /** TLS towards the upstream. */
  tls?: ClientTLSSettings;
  /** Per-port overrides; port-level settings replace (not merge with) the top-level ones. */
  portLevelSettings?: PortTrafficPolicy[];
  /** Tunnel TCP over HTTP CONNECT/POST to a proxy. */
  tunnel?: TunnelSettings;
  /** Send a PROXY protocol header upstream. */
  proxyProtocol?: { /** V1 (text) or V2 (binary); default V1. */ version?: 'V1' | 'V2' };
  /** Limit concurrent retries to a share of active requests. */
  retryBudget?: RetryBudget;
}

export interface PortTrafficPolicy {
  /** The port the settings apply to. Required, unique within the list. */
  port?: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export interface TunnelSettings {
  /** CONNECT (default) or POST. */
  protocol?: string;
  /** Host the tunnel connects to (IP or FQDN). Required. */
  targetHost: string;
  /** Port the tunnel connects to. Required. */
  targetPort: number;
}

export interface RetryBudget {
  /** Percentage of active requests that may be retries, 0–100; default 20. */
  percent?: number;
  /** Retries always allowed regardless of the budget; default 3. */
  minRetryConcurrency?: number;
  /** Window over which the budget is computed. */
  budgetInterval?: Duration;
}

export interface Subset {
  /** Name used in route destinations; a DNS-1123 label, unique in the rule. Required. */
  name: string;
  /** Endpoint labels that define the subset (ANDed with the service selector). */
  labels?: Record<string, string>;
  /** Policy for the subset; overrides the rule-level policy field by field at the top level. Subsets cannot nest. */
  trafficPolicy?: TrafficPolicy;
}

export type SimpleLB = 'UNSPECIFIED' | 'LEAST_CONN' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST';

/** One of simple or consistentHash (or neither: the mesh default, LEAST_REQUEST). */
export interface LoadBalancerSettings {
  /** Simple algorithm; LEAST_CONN is a deprecated alias of LEAST_REQUEST. */
  simple?: SimpleLB;
  /** Hash-based session affinity (ring hash or Maglev). */
  consistentHash?: ConsistentHashLB;
  /** Locality-aware distribution and failover; needs outlierDetection for failover. */
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** Zone-aware load balancing (Envoy's zone-aware routing); excludes localityLbSetting. */
  zoneAwareLbSetting?: ZoneAwareLoadBalancerSetting;
  /** Deprecated: slow-start window for new endpoints; use warmup. */
  warmupDurationSecs?: Duration;
  /** Slow start: ramp traffic to new endpoints over a window. */
  warmup?: WarmupConfiguration;
  /** Weight endpoints by backend-reported (ORCA) utilization. */
  backendUtilization?: BackendUtilization;
}

export interface WarmupConfiguration {
  /** Length of the warm-up window. Required. */
  duration: Duration;
  /** Traffic share a new endpoint starts at, 0–100; default 10. */
  minimumPercent?: number;
  /** Curve of the ramp; 1.0 is linear, ≥ 1; default 1. */
  aggression?: number;
}

export interface BackendUtilization {
  /** Extra utilization added per error, in percent of the QPS ratio. */
  errorUtilizationPenaltyPercent?: number;
  /** ORCA metric names combined into the utilization. */
  metricNamesForComputingUtilization?: string[];
  /** Discard weights not refreshed for this long. */
  weightExpirationPeriod?: Duration;
  /** Wait this long after the first report before using the weight. */
  weightStabilizationPeriod?: Duration;
  /** How often weights are recomputed. */
  weightUpdatePeriod?: Duration;
}

/** Exactly one hash key (httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName); at most one of ringHash/maglev. */
export interface ConsistentHashLB {
  /** Hash on this request header. */
  httpHeaderName?: string;
  /** Hash on a cookie; Envoy generates it when absent if ttl is set. */
  httpCookie?: HTTPCookie;
  /** Hash on the source IP address. */
  useSourceIp?: boolean;
  /** Hash on this query parameter. */
  httpQueryParameterName?: string;
  /** Ring hash algorithm. */
  ringHash?: { /** Minimum ring entries; default 1024. */ minimumRingSize?: number };
  /** Maglev algorithm. */
  maglev?: { /** Lookup table size, a prime; default 65537. */ tableSize?: number };
  /** Deprecated: use ringHash.minimumRingSize. */
  minimumRingSize?: number;
}

export interface HTTPCookie {
  /** Cookie name. Required. */
  name: string;
  /** Cookie path. */
  path?: string;
  /** Lifetime of a generated cookie; 0s makes a session cookie. */
  ttl?: Duration;
  /** Extra cookie attributes. */
  attributes?: { /** Attribute name. Required. */ name: string; value?: string }[];
}

export interface LocalityLoadBalancerSetting {
  /** Weighted distribution per source locality; excludes failover. */
  distribute?: { /** Source locality `region/zone/subzone` (trailing `*` allowed). */ from?: string; /** Destination locality → weight 1–100, summing to 100. */ to?: Record<string, number> }[];
  /** Region failover order; regions only, from ≠ to. */
  failover?: LocalityFailover[];
  /** Labels (in order) that define failover priority. */
  failoverPriority?: string[];
  /** Turn locality load balancing on or off; default on when outlier detection is set. */
  enabled?: boolean;
}

export interface LocalityFailover {
  /** Source region. */
  from?: string;
  /** Destination region to fail over to. */
  to?: string;
}

export interface ZoneAwareLoadBalancerSetting {
  /** Turn zone-aware routing on or off. */
  enabled?: boolean;
  /** Cross-region failover order; regions only. */
  failover?: LocalityFailover[];
  /** Labels that define failover priority; not the topology labels. */
  failoverPriority?: string[];
  /** Minimum cluster size for zone-aware routing to apply; default 6 (Envoy). */
  minClusterSize?: number;
}

export interface OutlierDetection {
  /** Deprecated: consecutive 5xx (502/503/504 for TCP: connect failures) before ejection; use consecutive5xxErrors. */
  consecutiveErrors?: number;
  /** Count local-origin failures (connect errors, timeouts) separately; default false. */
  splitExternalLocalOriginErrors?: boolean;
  /** Consecutive local-origin failures before ejection (needs splitExternalLocalOriginErrors); default 5. */
  consecutiveLocalOriginFailures?: number;
  /** Consecutive 502/503/504 before ejection; 0 disables; default off. */
  consecutiveGatewayErrors?: number;
  /** Consecutive 5xx before ejection; 0 disables; default 5. */
  consecutive5xxErrors?: number;
  /** Time between ejection sweeps; ≥ 1ms; default 10s. */
  interval?: Duration;
  /** Minimum ejection time, multiplied by the number of ejections; ≥ 1ms; default 30s. */
  baseEjectionTime?: Duration;
  /** Maximum share of endpoints ejected, 0–100; default 10. */
  maxEjectionPercent?: number;
  /** Outlier detection is off when fewer than this percentage of endpoints are healthy, 0–100; default 0. */
  minHealthPercent?: number;
  /** HTTP status codes counted as errors, 100–599. */
  outlierDetectionHttpErrorCodes?: number[];
}
