// MeshConfig extensionProviders for CUSTOM authorization (envoyExtAuthzHttp / envoyExtAuthzGrpc) → Envoy's ext_authz
// filter config, pointed at the provider's outbound cluster, as Istio builds it.
import type { Json } from '../common.ts';
import { duration } from '../common.ts';
import { exactMatcher, prefixMatcher, suffixMatcher } from './matchers.ts';

export const EXT_AUTHZ_HTTP_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_TCP_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz';

interface ProviderCommon {
  /** `host` or `namespace/host` of the authorizer's service. */
  service: string;
  port: number | string;
  /** Go duration; default 600s. */
  timeout?: string;
  /** Let requests through when the authorizer cannot be reached. */
  failOpen?: boolean;
  /** HTTP status sent when the authorizer fails and failOpen is false; default 403. */
  statusOnError?: string;
  includeRequestBodyInCheck?: { maxRequestBytes?: number; allowPartialMessage?: boolean; packAsBytes?: boolean };
}

export interface ExtAuthzHttpProvider extends ProviderCommon {
  pathPrefix?: string;
  includeRequestHeadersInCheck?: string[];
  /** Deprecated alias of includeRequestHeadersInCheck (ignored when that is set). */
  includeHeadersInCheck?: string[];
  includeAdditionalHeadersInCheck?: Record<string, string>;
  headersToUpstreamOnAllow?: string[];
  headersToDownstreamOnDeny?: string[];
  headersToDownstreamOnAllow?: string[];
}

export type ExtAuthzGrpcProvider = ProviderCommon;

/** One MeshConfig extension provider (only the ext-authz kinds matter here). */
export interface ExtensionProvider {
  name: string;
  envoyExtAuthzHttp?: ExtAuthzHttpProvider;
  envoyExtAuthzGrpc?: ExtAuthzGrpcProvider;
}

/** Go duration (`2ms`, `10s`, `1m30s`) → milliseconds; undefined when malformed. */
function goDurationMs(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed = re.lastIndex;
  }
  return consumed === text.length && text.length > 0 ? total : undefined;
}

/** Envoy header-name patterns from Istio's `x-prefix-*` / `*-suffix` / exact lists, compared case-insensitively. */
function headerPatterns(names: readonly string[]): Json {
  return { patterns: names.map((n) => (n.startsWith('*') ? suffixMatcher(n.slice(1), true) : n.endsWith('*') ? prefixMatcher(n.slice(0, -1), true) : exactMatcher(n, true))) };
}

export interface ResolvedProvider {
  host: string;
  port: number;
  cluster: string;
  timeoutMs: number;
}

/** Resolve the provider's service to its outbound cluster, or explain why it cannot be used. */
export function resolveProvider(p: ProviderCommon): ResolvedProvider | string {
  const slash = p.service.indexOf('/');
  const host = slash < 0 ? p.service : p.service.slice(slash + 1);
  const port = Number(p.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `invalid port ${String(p.port)}`;
  if (host === '') return 'service must name a host';
  const timeoutMs = p.timeout === undefined ? 600_000 : goDurationMs(p.timeout);
  if (timeoutMs === undefined) return `invalid timeout ${p.timeout}`;
  return { host, port, cluster: `outbound|${port}||${host}`, timeoutMs };
}

function statusCode(p: ProviderCommon): number | string {
  const code = p.statusOnError === undefined || p.statusOnError === '' ? 403 : Number(p.statusOnError);
  if (!Number.isInteger(code) || code < 100 || code > 599) return `invalid statusOnError ${String(p.statusOnError)}`;
  return code;
}

/** Istio's filter_enabled_metadata: the ext_authz filter runs only when the CUSTOM shadow RBAC matched this provider. */
function enabledFor(provider: string): Json {
  return { filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { string_match: prefixMatcher(`istio-ext-authz-${provider}`) } };
}

function body(p: ProviderCommon): Json {
  const b = p.includeRequestBodyInCheck;
  if (!b) return {};
  const w: Json = {};
  if (b.maxRequestBytes !== undefined) w['max_request_bytes'] = b.maxRequestBytes;
  if (b.allowPartialMessage) w['allow_partial_message'] = true;
  if (b.packAsBytes) w['pack_as_bytes'] = true;
  return { with_request_body: w };
}

/** The HTTP ext_authz filter for a provider, or a reason it cannot be built. */
export function extAuthzHttpFilter(provider: ExtensionProvider): Json | string {
  const common = provider.envoyExtAuthzHttp ?? provider.envoyExtAuthzGrpc;
  if (!common) return `extension provider ${provider.name} is not an ext-authz provider`;
  const r = resolveProvider(common);
  if (typeof r === 'string') return r;
  const code = statusCode(common);
  if (typeof code === 'string') return code;
  const cfg: Json = { '@type': EXT_AUTHZ_HTTP_TYPE, transport_api_version: 'V3', status_on_error: { code }, filter_enabled_metadata: enabledFor(provider.name), ...body(common) };
  if (common.failOpen) cfg['failure_mode_allow'] = true;
  const h = provider.envoyExtAuthzHttp;
  if (h) {
    if (h.pathPrefix !== undefined && h.pathPrefix !== '' && !h.pathPrefix.startsWith('/')) return `pathPrefix must begin with /: ${h.pathPrefix}`;
    const allowed = h.includeRequestHeadersInCheck ?? h.includeHeadersInCheck ?? [];
    if (allowed.length > 0) cfg['allowed_headers'] = headerPatterns(allowed);
    const request: Json = {};
    const add = Object.entries(h.includeAdditionalHeadersInCheck ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
    if (add.length > 0) request['headers_to_add'] = add.map(([key, value]) => ({ key, value }));
    const response: Json = {};
    if (h.headersToDownstreamOnDeny?.length) response['allowed_client_headers'] = headerPatterns(h.headersToDownstreamOnDeny);
    if (h.headersToDownstreamOnAllow?.length) response['allowed_client_headers_on_success'] = headerPatterns(h.headersToDownstreamOnAllow);
    if (h.headersToUpstreamOnAllow?.length) response['allowed_upstream_headers'] = headerPatterns(h.headersToUpstreamOnAllow);
    const service: Json = { server_uri: { uri: `http://${r.host}`, cluster: r.cluster, timeout: duration(r.timeoutMs) } };
    if (h.pathPrefix) service['path_prefix'] = h.pathPrefix;
    if (Object.keys(request).length > 0) service['authorization_request'] = request;
    if (Object.keys(response).length > 0) service['authorization_response'] = response;
    cfg['http_service'] = service;
  } else {
    cfg['grpc_service'] = { envoy_grpc: { cluster_name: r.cluster, authority: r.host }, timeout: duration(r.timeoutMs) };
  }
  return { name: 'envoy.filters.http.ext_authz', typed_config: cfg };
}

/** The network (TCP) ext_authz filter: only gRPC providers can authorize TCP connections. */
export function extAuthzTcpFilter(provider: ExtensionProvider): Json | string | undefined {
  const g = provider.envoyExtAuthzGrpc;
  if (!g) return undefined;
  const r = resolveProvider(g);
  if (typeof r === 'string') return r;
  const cfg: Json = {
    '@type': EXT_AUTHZ_TCP_TYPE,
    stat_prefix: 'tcp.',
    transport_api_version: 'V3',
    grpc_service: { envoy_grpc: { cluster_name: r.cluster, authority: r.host }, timeout: duration(r.timeoutMs) },
    filter_enabled_metadata: { filter: 'envoy.filters.network.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { string_match: prefixMatcher(`istio-ext-authz-${provider.name}`) } },
  };
  if (g.failOpen) cfg['failure_mode_allow'] = true;
  return { name: 'envoy.filters.network.ext_authz', typed_config: cfg };
}
