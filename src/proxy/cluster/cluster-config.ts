// Cluster (CDS) and ClusterLoadAssignment (EDS) resources compiled into typed, immutable values.
// Runtime state (hosts, pools, counters) lives in ./cluster-manager.ts and survives config versions.
import type { FieldError, Result } from '../../core/result.ts';
import { Errors, type Raw, arr, at, durationMs, obj, plainStruct, str, wrappedNum } from '../config/raw.ts';
import { compileTransportMatches, compileTransportSocket, type TransportMatch, type UpstreamTls } from '../tls/upstream-tls.ts';

export type DiscoveryType = 'eds' | 'static' | 'strict_dns' | 'original_dst';
export type LbPolicy = 'round_robin' | 'least_request' | 'random' | 'ring_hash';

export interface EndpointConfig {
  /** IP address or (strict_dns) host name. */
  address: string;
  port: number;
  /** Relative weight (load_balancing_weight, default 1). */
  weight: number;
  /** False for EDS health UNHEALTHY, DRAINING, TIMEOUT. */
  healthy: boolean;
  priority: number;
  /** Istio workload metadata (`filter_metadata.istio.workload`: name;namespace;service;revision;cluster) when present. */
  workload: string | undefined;
  /** filter_metadata["envoy.transport_socket_match"] (Istio: tlsMode=istio for endpoints with a sidecar). */
  socketMatch: Record<string, string>;
}

export interface ClusterConfig {
  name: string;
  type: DiscoveryType;
  /** EDS resource name (eds_cluster_config.service_name, else the cluster name). */
  edsServiceName: string;
  lbPolicy: LbPolicy;
  /** Envoy default 5 s. */
  connectTimeoutMs: number;
  /** Endpoints from load_assignment (static, strict_dns); EDS clusters get theirs from ClusterLoadAssignment. */
  endpoints: EndpointConfig[];
  /**
   * Upstream HTTP version (HttpProtocolOptions): http1 (Envoy's default), http2 (explicit http2_protocol_options, as
   * Istio sets for gRPC/HTTP2 ports), or downstream (use_downstream_protocol_config: the client's version).
   */
  upstreamProtocol: 'http1' | 'http2' | 'downstream';
  /** ring_hash_lb_config.minimum_ring_size (Envoy default 1024). */
  minRingSize: number;
  /** circuit_breakers default thresholds (Envoy defaults 1024). */
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  /** circuit_breakers max_retries: retries outstanding at once across the cluster (Envoy default 3; Istio sets 2^32-1). */
  maxRetries: number;
  /** http2_protocol_options.max_concurrent_streams: streams per upstream HTTP/2 connection (Envoy default 2^31-1). */
  h2MaxConcurrentStreams: number;
  /** 0 = unlimited (max_requests_per_connection). */
  maxRequestsPerConnection: number;
  /** Idle upstream connections close after this many ms (common_http_protocol_options.idle_timeout, default 1 h). */
  idleTimeoutMs: number;
  /**
   * Upstream connections older than this many ms take no new request and close once idle (HTTP/2: drained, no new
   * streams) — common_http_protocol_options.max_connection_duration; 0 = no limit (Envoy's default).
   */
  maxConnectionDurationMs: number;
  /** Outlier detection: eject a host after this many consecutive 5xx (0 = off). */
  outlier: { consecutive5xx: number; consecutiveGatewayErrors: number; baseEjectionMs: number; maxEjectionPercent: number } | undefined;
  /** Upstream TLS (transport_socket), and the per-endpoint choices of transport_socket_matches. */
  tls: UpstreamTls | undefined;
  tlsMatches: TransportMatch[];
}

const lbPolicies: Record<string, LbPolicy> = {
  ROUND_ROBIN: 'round_robin',
  LEAST_REQUEST: 'least_request',
  RANDOM: 'random',
  // ORIGINAL_DST clusters: the destination picks the host; the policy is unused.
  CLUSTER_PROVIDED: 'round_robin',
  RING_HASH: 'ring_hash',
  // Same affinity as a ring (see ring-hash.ts).
  MAGLEV: 'ring_hash',
};

export function compileCluster(raw: Raw): Result<ClusterConfig, FieldError[]> {
  const errors = new Errors();
  const name = str(raw['name']) ?? '';
  if (name === '') errors.add('name', 'cluster needs a name');
  let type: DiscoveryType;
  const t = str(raw['type']) ?? 'STATIC';
  switch (t) {
    case 'EDS':
      type = 'eds';
      break;
    case 'STATIC':
      type = 'static';
      break;
    case 'STRICT_DNS':
    case 'LOGICAL_DNS':
      type = 'strict_dns';
      break;
    case 'ORIGINAL_DST':
      type = 'original_dst';
      break;
    default:
      errors.add('type', `cluster discovery type ${t} is not supported`);
      type = 'static';
  }
  if (raw['cluster_type'] !== undefined) errors.add('cluster_type', 'custom cluster types (aggregate …) are not supported yet');
  const lbName = str(raw['lb_policy']) ?? 'ROUND_ROBIN';
  const lbPolicy = lbPolicies[lbName];
  if (!lbPolicy) errors.add('lb_policy', `load balancing policy ${lbName} is not supported`);
  const connectTimeout = durationMs(raw['connect_timeout']) ?? 5000;
  if (Number.isNaN(connectTimeout)) errors.add('connect_timeout', 'malformed duration');
  const eds = obj(raw['eds_cluster_config']);
  const endpoints = raw['load_assignment'] !== undefined ? compileEndpoints(obj(raw['load_assignment']) ?? {}, 'load_assignment', errors) : [];
  const thresholds = obj(arr(obj(raw['circuit_breakers'])?.['thresholds'])[0]);
  const hpo = obj(obj(raw['typed_extension_protocol_options'])?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
  const http = obj(hpo?.['common_http_protocol_options']) ?? obj(raw['common_http_protocol_options']);
  const explicit = obj(hpo?.['explicit_http_config']);
  const upstreamProtocol: ClusterConfig['upstreamProtocol'] =
    explicit?.['http2_protocol_options'] !== undefined || raw['http2_protocol_options'] !== undefined
      ? 'http2'
      : hpo?.['use_downstream_protocol_config'] !== undefined || hpo?.['auto_config'] !== undefined
        ? 'downstream'
        : 'http1';
  const maxConnectionDuration = durationMs(http?.['max_connection_duration']) ?? 0;
  if (Number.isNaN(maxConnectionDuration)) errors.add('common_http_protocol_options.max_connection_duration', 'malformed duration');
  const od = obj(raw['outlier_detection']);
  const tls = compileTransportSocket(raw['transport_socket'], 'transport_socket', errors);
  const tlsMatches = compileTransportMatches(raw, errors);
  const value: ClusterConfig = {
    name,
    type,
    edsServiceName: str(eds?.['service_name']) || name,
    lbPolicy: lbPolicy ?? 'round_robin',
    connectTimeoutMs: connectTimeout,
    endpoints,
    upstreamProtocol,
    minRingSize: Math.min(wrappedNum(obj(raw['ring_hash_lb_config'])?.['minimum_ring_size']) ?? 1024, 65536),
    maxConnections: wrappedNum(thresholds?.['max_connections']) ?? 1024,
    maxPendingRequests: wrappedNum(thresholds?.['max_pending_requests']) ?? 1024,
    maxRequests: wrappedNum(thresholds?.['max_requests']) ?? 1024,
    maxRetries: wrappedNum(thresholds?.['max_retries']) ?? 3,
    h2MaxConcurrentStreams: wrappedNum(obj(explicit?.['http2_protocol_options'] ?? raw['http2_protocol_options'])?.['max_concurrent_streams']) ?? 2_147_483_647,
    maxRequestsPerConnection: wrappedNum(http?.['max_requests_per_connection']) ?? wrappedNum(raw['max_requests_per_connection']) ?? 0,
    idleTimeoutMs: durationMs(http?.['idle_timeout']) ?? 3_600_000,
    maxConnectionDurationMs: maxConnectionDuration,
    outlier: od
      ? {
          consecutive5xx: wrappedNum(od['consecutive_5xx']) ?? 5,
          consecutiveGatewayErrors: wrappedNum(od['consecutive_gateway_failure']) ?? 0,
          baseEjectionMs: durationMs(od['base_ejection_time']) ?? 30_000,
          maxEjectionPercent: wrappedNum(od['max_ejection_percent']) ?? 10,
        }
      : undefined,
    tls,
    tlsMatches,
  };
  return errors.any ? { ok: false, error: errors.list } : { ok: true, value };
}

/** A ClusterLoadAssignment (EDS resource, or a cluster's inline load_assignment). */
export interface LoadAssignment {
  clusterName: string;
  endpoints: EndpointConfig[];
}

export function compileLoadAssignment(raw: Raw): Result<LoadAssignment, FieldError[]> {
  const errors = new Errors();
  const clusterName = str(raw['cluster_name']) ?? '';
  if (clusterName === '') errors.add('cluster_name', 'ClusterLoadAssignment needs a cluster_name');
  const endpoints = compileEndpoints(raw, '', errors);
  return errors.any ? { ok: false, error: errors.list } : { ok: true, value: { clusterName, endpoints } };
}

function compileEndpoints(raw: Raw, path: string, errors: Errors): EndpointConfig[] {
  const out: EndpointConfig[] = [];
  arr(raw['endpoints']).forEach((l, i) => {
    const lo = obj(l) ?? {};
    const lpath = at(at(path, 'endpoints'), i);
    const priority = typeof lo['priority'] === 'number' ? lo['priority'] : 0;
    arr(lo['lb_endpoints']).forEach((e, j) => {
      const eo = obj(e) ?? {};
      const epath = at(at(lpath, 'lb_endpoints'), j);
      const sa = obj(obj(obj(eo['endpoint'])?.['address'])?.['socket_address']);
      const address = str(sa?.['address']);
      const port = sa?.['port_value'];
      if (!address || typeof port !== 'number' || port <= 0 || port > 65535) {
        return errors.add(at(epath, 'endpoint.address.socket_address'), 'endpoint needs a socket address with address and port_value 1..65535');
      }
      const health = str(eo['health_status']) ?? 'UNKNOWN';
      const fm = obj(obj(eo['metadata'])?.['filter_metadata']);
      const istio = plainStruct(fm?.['istio']);
      const socketMatch: Record<string, string> = {};
      for (const [k, v] of Object.entries(plainStruct(fm?.['envoy.transport_socket_match']))) if (typeof v === 'string') socketMatch[k] = v;
      out.push({
        address,
        port,
        weight: wrappedNum(eo['load_balancing_weight']) || 1,
        healthy: health === 'UNKNOWN' || health === 'HEALTHY' || health === 'DEGRADED',
        priority,
        workload: str(istio['workload']),
        socketMatch,
      });
    });
  });
  return out;
}
