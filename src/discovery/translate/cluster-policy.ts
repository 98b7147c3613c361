// DestinationRule traffic policy → Envoy cluster fields: load balancer, connection pool (circuit breakers and HTTP
// protocol options), outlier detection and upstream TLS (ISTIO_MUTUAL via SDS `default`/`ROOTCA`, SIMPLE, MUTUAL),
// plus auto-mTLS transport-socket matches when no rule sets TLS.
import { formatSpiffeId } from '../../core/names/spiffe.ts';
import type { ClientTLSSettings, ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, TrafficPolicy } from '../snapshot/istio-types.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import type { Protocol } from '../snapshot/model.ts';
import { isHttp2Protocol } from '../snapshot/model.ts';
import { type Json, MAX_U32, Types, duration, sdsSecret, struct, u32 } from './common.ts';

/** The policy for one port of one subset: port-level settings override subset, which override the rule. */
export interface PortPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

function portLevel(tp: TrafficPolicy | undefined, port: number): PortPolicy | undefined {
  return tp?.portLevelSettings?.find((p) => p.port?.number === port);
}

/** Resolve the policy for (port, subset) the way Istio layers it. */
export function resolvePortPolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): PortPolicy {
  const layers = [portLevel(subset, port), subset, portLevel(top, port), top].filter((x): x is PortPolicy => x !== undefined);
  const pick = <K extends keyof PortPolicy>(k: K): PortPolicy[K] => layers.find((l) => l[k] !== undefined)?.[k];
  const out: PortPolicy = {};
  const lb = pick('loadBalancer');
  const pool = pick('connectionPool');
  const od = pick('outlierDetection');
  const tls = pick('tls');
  if (lb) out.loadBalancer = lb;
  if (pool) out.connectionPool = pool;
  if (od) out.outlierDetection = od;
  if (tls) out.tls = tls;
  return out;
}

/** lb_policy (and ring-hash config) fields; proxyless gRPC supports ROUND_ROBIN and RING_HASH only. */
export function lbFields(lb: LoadBalancerSettings | undefined, grpc: boolean): Json {
  if (lb?.consistentHash) {
    const ch = lb.consistentHash;
    if (ch.maglev && !grpc) return { lb_policy: 'MAGLEV', ...(ch.maglev.tableSize ? { maglev_lb_config: { table_size: u32(ch.maglev.tableSize) } } : {}) };
    const min = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
    return { lb_policy: 'RING_HASH', ring_hash_lb_config: { ...(min ? { minimum_ring_size: { value: min } } : {}), hash_function: 'XX_HASH' } };
  }
  if (grpc) return { lb_policy: 'ROUND_ROBIN' };
  switch (lb?.simple) {
    case 'ROUND_ROBIN':
      return { lb_policy: 'ROUND_ROBIN' };
    case 'RANDOM':
      return { lb_policy: 'RANDOM' };
    case 'PASSTHROUGH':
      return { lb_policy: 'CLUSTER_PROVIDED' };
    default:
      // Istio's default (and LEAST_CONN / LEAST_REQUEST / UNSPECIFIED).
      return { lb_policy: 'LEAST_REQUEST' };
  }
}

export function circuitBreakers(pool: ConnectionPoolSettings | undefined): Json {
  const t = pool?.tcp;
  const h = pool?.http;
  return {
    thresholds: [
      {
        max_connections: u32(t?.maxConnections ?? MAX_U32),
        max_pending_requests: u32(h?.http1MaxPendingRequests ?? MAX_U32),
        max_requests: u32(h?.http2MaxRequests ?? MAX_U32),
        max_retries: u32(h?.maxRetries ?? MAX_U32),
        track_remaining: true,
      },
    ],
  };
}

/**
 * typed_extension_protocol_options for HTTP upstreams: HTTP/2 for gRPC/HTTP2 ports, idle timeout, maximum connection age
 * and per-connection limits.
 * `meshUpgrade`: MeshConfig h2UpgradePolicy is UPGRADE (outbound clusters only). As in Istio, a DestinationRule's
 * h2UpgradePolicy decides when it says UPGRADE or DO_NOT_UPGRADE, and the mesh setting applies to HTTP ports otherwise.
 */
export function httpProtocolOptions(protocol: Protocol, pool: ConnectionPoolSettings | undefined, meshUpgrade = false): Json | undefined {
  const h = pool?.http;
  const t = pool?.tcp;
  const rule = h?.h2UpgradePolicy;
  const upgrade = rule === 'UPGRADE' || (rule !== 'DO_NOT_UPGRADE' && meshUpgrade);
  const h2 = isHttp2Protocol(protocol) || upgrade;
  // As Istio: tcp.idleTimeout stands in for http.idleTimeout when that is unset; tcp.maxConnectionDuration is the
  // upstream connections' max_connection_duration (drained, never cut mid-request).
  const idle = parseDurationMillis(h?.idleTimeout ?? t?.idleTimeout);
  const maxDuration = parseDurationMillis(t?.maxConnectionDuration);
  if (!h2 && !h && idle === undefined && maxDuration === undefined) return undefined;
  const common: Json = {};
  if (idle !== undefined) common['idle_timeout'] = duration(idle);
  if (maxDuration !== undefined) common['max_connection_duration'] = duration(maxDuration);
  if (h?.maxRequestsPerConnection) common['max_requests_per_connection'] = u32(h.maxRequestsPerConnection);
  const explicit: Json = h2
    ? { http2_protocol_options: h?.maxConcurrentStreams ? { max_concurrent_streams: u32(h.maxConcurrentStreams) } : {} }
    : { http_protocol_options: {} };
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': Types.httpProtocolOptions,
      ...(Object.keys(common).length > 0 ? { common_http_protocol_options: common } : {}),
      explicit_http_config: explicit,
    },
  };
}

export function outlierDetection(od: OutlierDetection | undefined): Json | undefined {
  if (!od) return undefined;
  const out: Json = {};
  const c5xx = od.consecutive5xxErrors ?? od.consecutiveErrors;
  if (c5xx !== undefined) {
    out['consecutive_5xx'] = u32(c5xx);
    out['enforcing_consecutive_5xx'] = u32(c5xx > 0 ? 100 : 0);
  } else {
    out['enforcing_consecutive_5xx'] = u32(0);
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out['consecutive_gateway_failure'] = u32(od.consecutiveGatewayErrors);
    out['enforcing_consecutive_gateway_failure'] = u32(od.consecutiveGatewayErrors > 0 ? 100 : 0);
  }
  if (od.splitExternalLocalOriginErrors) {
    out['split_external_local_origin_errors'] = true;
    if (od.consecutiveLocalOriginFailures !== undefined) out['consecutive_local_origin_failure'] = u32(od.consecutiveLocalOriginFailures);
  }
  const interval = parseDurationMillis(od.interval);
  if (interval !== undefined) out['interval'] = duration(interval);
  const base = parseDurationMillis(od.baseEjectionTime);
  if (base !== undefined) out['base_ejection_time'] = duration(base);
  if (od.maxEjectionPercent !== undefined) out['max_ejection_percent'] = u32(od.maxEjectionPercent);
  // Istio disables success-rate ejection: only consecutive errors eject.
  out['enforcing_success_rate'] = u32(0);
  return out;
}

/** Istio's SNI for mTLS to a cluster: `outbound_.9080_.v1_.reviews.default.svc.cluster.local`. */
export function istioSni(host: string, port: number, subset: string): string {
  return `outbound_.${port}_.${subset}_.${host}`;
}

/** UpstreamTlsContext for ISTIO_MUTUAL: workload cert `default` and trust bundle `ROOTCA` from SDS over ADS. */
export function istioMutualTls(sni: string, sans: readonly string[]): Json {
  const defaultValidation: Json = sans.length > 0 ? { match_typed_subject_alt_names: sans.map((s) => ({ san_type: 'URI', matcher: { exact: s } })) } : {};
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': Types.upstreamTls,
      common_tls_context: {
        alpn_protocols: ['istio-peer-exchange', 'istio'],
        tls_certificate_sds_secret_configs: [sdsSecret('default')],
        combined_validation_context: { default_validation_context: defaultValidation, validation_context_sds_secret_config: sdsSecret('ROOTCA') },
      },
      sni,
    },
  };
}

/** UpstreamTlsContext for SIMPLE or MUTUAL origination (files or an SDS credential). */
function originationTls(tls: ClientTLSSettings, host: string): Json {
  const common: Json = {};
  if (tls.credentialName) {
    if (tls.mode === 'MUTUAL') common['tls_certificate_sds_secret_configs'] = [sdsSecret(tls.credentialName)];
    common['validation_context_sds_secret_config'] = sdsSecret(`${tls.credentialName}-cacert`);
  } else {
    if (tls.mode === 'MUTUAL' && tls.clientCertificate && tls.privateKey) {
      common['tls_certificates'] = [{ certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } }];
    }
    if (!tls.insecureSkipVerify) {
      const vc: Json = {};
      if (tls.caCertificates) vc['trusted_ca'] = { filename: tls.caCertificates };
      if (tls.subjectAltNames && tls.subjectAltNames.length > 0) {
        vc['match_typed_subject_alt_names'] = tls.subjectAltNames.map((s) => ({ san_type: 'DNS', matcher: { exact: s } }));
      }
      if (Object.keys(vc).length > 0) common['validation_context'] = vc;
    }
  }
  return { name: 'envoy.transport_sockets.tls', typed_config: { '@type': Types.upstreamTls, common_tls_context: common, sni: tls.sni ?? host } };
}

export interface TlsInput {
  tls: ClientTLSSettings | undefined;
  host: string;
  port: number;
  subset: string;
  /** SPIFFE ids expected of the service's workloads. */
  sans: readonly string[];
  meshInternal: boolean;
  autoMtls: boolean;
}

/** transport_socket or transport_socket_matches fields for a cluster. */
export function clusterTls(t: TlsInput): Json {
  const mode = t.tls?.mode;
  if (mode === 'DISABLE') return {};
  if (mode === 'ISTIO_MUTUAL') return { transport_socket: istioMutualTls(t.tls?.sni ?? istioSni(t.host, t.port, t.subset), t.tls?.subjectAltNames ?? t.sans) };
  if (mode === 'SIMPLE' || mode === 'MUTUAL') return { transport_socket: originationTls(t.tls!, t.host) };
  if (!t.autoMtls || !t.meshInternal) return {};
  // Auto-mTLS: endpoints labelled tlsMode=istio (they run a sidecar) get mTLS, the rest plaintext.
  return {
    transport_socket_matches: [
      { name: 'tlsMode-istio', match: struct({ tlsMode: 'istio' }), transport_socket: istioMutualTls(istioSni(t.host, t.port, t.subset), t.sans) },
      { name: 'tlsMode-disabled', match: { fields: {} }, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': Types.rawBuffer } } },
    ],
  };
}

/** SPIFFE ids of a set of service accounts (sorted, unique). */
export function spiffeSans(trustDomain: string, accounts: ReadonlyArray<{ namespace: string; serviceAccount: string }>): string[] {
  const set = new Set<string>();
  for (const a of accounts) if (a.serviceAccount !== '') set.add(formatSpiffeId({ trustDomain, namespace: a.namespace, serviceAccount: a.serviceAccount }));
  return [...set].sort();
}
