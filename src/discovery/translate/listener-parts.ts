// Listener building blocks shared by sidecar and gateway LDS: HTTP connection managers (RDS or inline routes),
// the HTTP filter chain in Weft's order (fault → CORS → router), and downstream TLS contexts.
import { type Json, Types, adsConfigSource, sdsSecret } from './common.ts';

/** HTTP filters in the order DESIGN.md §4 gives; security filters (JWT, RBAC) are inserted before fault by policy. */
export function httpFilters(): Json[] {
  return [
    { name: 'envoy.filters.http.fault', typed_config: { '@type': Types.fault } },
    { name: 'envoy.filters.http.cors', typed_config: { '@type': Types.cors } },
    { name: 'envoy.filters.http.router', typed_config: { '@type': Types.router } },
  ];
}

export function hcmFilter(statPrefix: string, routes: { rds: string } | { inline: Json }, extra: Json = {}): Json {
  const routeSpec = 'rds' in routes ? { rds: { route_config_name: routes.rds, config_source: adsConfigSource } } : { route_config: routes.inline };
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': Types.hcm,
      stat_prefix: statPrefix,
      ...routeSpec,
      http_filters: httpFilters(),
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      normalize_path: { value: true },
      ...extra,
    },
  };
}

/** Istio mTLS server side: workload cert `default`, peers validated against `ROOTCA`, client certs required. */
export function istioDownstreamTls(alpn: readonly string[]): Json {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': Types.downstreamTls,
      common_tls_context: {
        alpn_protocols: [...alpn],
        tls_certificate_sds_secret_configs: [sdsSecret('default')],
        combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: sdsSecret('ROOTCA') },
      },
      require_client_certificate: { value: true },
    },
  };
}

export const listenerFilter = {
  tlsInspector: { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': Types.tlsInspector } },
  originalDst: { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': Types.originalDst } },
} as const;
