// Small shared pieces of xDS translation: Envoy's typed-config URLs, durations, wrappers, config sources,
// and the Struct form of metadata. Every resource is a plain object with Envoy's proto field names (snake_case);
// nested Anys are `{ '@type': url, ...fields }`, which src/xds/protos.ts encodeAny() turns into protobuf.

/** A plain Envoy proto object. */
export type Json = Record<string, unknown>;

export const Types = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  corsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  httpInspector: 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  originalDst: 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  previousHosts: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
} as const;

/** google.protobuf.Duration from milliseconds. */
export function duration(ms: number): Json {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1_000_000);
  return nanos === 0 ? { seconds } : { seconds, nanos };
}

export function u32(value: number): Json {
  return { value };
}

/** ConfigSource pointing at the ADS stream. */
export const adsConfigSource: Json = { ads: {}, resource_api_version: 'V3' };

/** Envoy's max uint32, which Istio uses to disable circuit-breaker limits by default. */
export const MAX_U32 = 4294967295;

/**
 * google.protobuf.Struct from a flat string map, in protobufjs form: protobufjs has no JSON mapping for Struct, and its
 * bundled google/protobuf/struct.proto names Value's fields in camelCase (`stringValue`), whatever keepCase says.
 */
export function struct(fields: Record<string, string>): Json {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = { stringValue: v };
  return { fields: out };
}

/** Percent (0–100, fractional) as an Envoy FractionalPercent over a million, as Istio does. */
export function fractionalPercent(percent: number): Json {
  return { numerator: Math.round(percent * 10_000), denominator: 'MILLION' };
}

/** SDS secret reference over ADS (Istio's `default` workload certificate and `ROOTCA`). */
export function sdsSecret(name: string): Json {
  return { name, sds_config: adsConfigSource };
}

export function socketAddress(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

/** A tcp_proxy network filter to `cluster` (or weighted clusters); `idleTimeoutMs` sets idle_timeout (Envoy's default 1 h otherwise). */
export function tcpProxyFilter(statPrefix: string, target: string | Array<{ name: string; weight: number }>, idleTimeoutMs?: number): Json {
  const routing = typeof target === 'string' ? { cluster: target } : { weighted_clusters: { clusters: target } };
  const idle = idleTimeoutMs !== undefined ? { idle_timeout: duration(idleTimeoutMs) } : {};
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': Types.tcpProxy, stat_prefix: statPrefix, ...routing, ...idle } };
}
