// Listener (LDS) resources compiled into typed values: address, filter chains with their match, and the network
// filter each chain ends in (HTTP connection manager or TCP proxy). HTTP filters the proxy cannot enforce are
// rejected when they carry security policy (RBAC, JWT, ext_authz) so that config never fails open.
import type { FieldError, Result } from '../../core/result.ts';
import { Errors, type Raw, arr, at, bool, durationMs, obj, str, wrappedNum } from '../config/raw.ts';
import { compileRouteConfiguration, type RouteTable } from '../router/route-table.ts';
import { buildHttpSecurity, buildNetworkRbac, isSecurityFilter, type HttpSecurity, type NetworkRbac } from '../security/http-security.ts';
import { normalizationOfHcm, type PathNormalization } from '../security/path-normalize.ts';
import type { StatStore } from '../stats/stat-store.ts';
import { compileDownstreamTls, type DownstreamTlsConfig } from '../tls/downstream-tls.ts';
import { compileTracing, type TracingConfig } from '../tracing/config.ts';
import { compileChainMatch, matchChain, type ChainMatch, type ConnectionFacts } from './chain-match.ts';

export type ServerHeaderTransformation = 'overwrite' | 'append_if_absent' | 'pass_through';

export interface HcmConfig {
  statPrefix: string;
  /** RDS name, or an inline route table. */
  route: { kind: 'rds'; name: string } | { kind: 'inline'; table: RouteTable };
  /** Append the peer address to x-forwarded-for and trust it as the client (Envoy use_remote_address). */
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  /** Server header value (Envoy default "envoy"). */
  serverName: string;
  serverHeaderTransformation: ServerHeaderTransformation;
  /** Do not generate x-request-id when absent (Envoy generate_request_id false). */
  generateRequestId: boolean;
  /** A request with no activity for this long is ended: 408 before a response, else reset (stream_idle_timeout; Envoy default 5 min); 0 = off. */
  streamIdleTimeoutMs: number;
  /** A keep-alive connection with no request for this long is closed (common_http_protocol_options.idle_timeout; Envoy default 1 h); 0 = off. */
  idleTimeoutMs: number;
  /** max_request_headers_kb in bytes (Envoy default 60 KiB). */
  maxHeaderBytes: number;
  /**
   * A request head not complete this long after its first byte gets 408 and the connection is closed
   * (request_headers_timeout; Envoy leaves it off, Weft defaults to 60 s so a slowloris client cannot hold a
   * connection forever); 0 = off.
   */
  requestHeadersTimeoutMs: number;
  /** Requests with more headers get 431 (common_http_protocol_options.max_headers_count; Envoy default 100). */
  maxHeadersCount: number;
  /** HTTP filters accepted but not enforced by this build (reported in config_dump). */
  ignoredFilters: string[];
  /** jwt_authn → ext_authz → RBAC, built from http_filters (undefined when the chain has none). */
  security: HttpSecurity | undefined;
  /** How request paths are normalised before security and routing (normalize_path, merge_slashes …). */
  pathNormalization: PathNormalization;
  /** The HCM's tracer, sampling and span tags; undefined = no spans (src/proxy/tracing). */
  tracing?: TracingConfig | undefined;
}

/** Weft's request_headers_timeout when the HCM sets none (and on the sidecar's own ports). */
export const DEFAULT_REQUEST_HEADERS_TIMEOUT_MS = 60_000;
/** Envoy's default max_headers_count. */
export const DEFAULT_MAX_HEADERS_COUNT = 100;

/** A tcp_proxy target: one cluster, or weighted clusters picked per connection (VirtualService tcp route weights). */
export interface TcpAction {
  kind: 'tcp';
  /** The single cluster, or the first of the weighted ones (for listings). */
  cluster: string;
  /** weighted_clusters with their weights (total > 0), empty for a single cluster. */
  weighted: ReadonlyArray<{ name: string; weight: number }>;
  statPrefix: string;
  /** No bytes either way for this long closes both connections (tcp_proxy idle_timeout; Envoy default 1 h); 0 = off. */
  idleTimeoutMs: number;
  /** envoy.filters.network.rbac before tcp_proxy: decided once per connection. */
  rbac?: NetworkRbac;
}

export type NetworkAction = { kind: 'http'; hcm: HcmConfig } | TcpAction;

/** The cluster for one new connection: weighted pick with `random()` in [0, 1). */
export function pickTcpCluster(a: TcpAction, random: () => number): string {
  if (a.weighted.length === 0) return a.cluster;
  const total = a.weighted.reduce((n, c) => n + c.weight, 0);
  let r = random() * total;
  for (const c of a.weighted) {
    if (r < c.weight) return c.name;
    r -= c.weight;
  }
  return a.weighted[a.weighted.length - 1]!.name;
}

export interface FilterChainConfig {
  name: string;
  /** filter_chain_match fields this proxy evaluates (see chain-match.ts). */
  match: ChainMatch;
  /** match.destinationPort and match.transportProtocol, kept for the per-port indexes of the inbound listener. */
  destinationPort: number | undefined;
  transportProtocol: string | undefined;
  /** The chain's transport_socket: TLS terminated with these settings; undefined = plaintext. */
  tls: DownstreamTlsConfig | undefined;
  action: NetworkAction;
}

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  /** false for Istio's per-service listeners reached through the virtual outbound listener. */
  bindToPort: boolean;
  /** Istio's capture listeners (virtualOutbound, virtualInbound): reached via the proxy's own ports, never bound. */
  useOriginalDst: boolean;
  chains: FilterChainConfig[];
  defaultChain: FilterChainConfig | undefined;
  /** Peek at a TLS ClientHello (SNI, ALPN) before choosing a chain: Envoy's tls_inspector listener filter, or any chain that needs it. */
  inspectTls: boolean;
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

/** HTTP filters that carry security policy: without an implementation they must not be silently dropped. */
const enforcingFilters = ['rbac', 'jwt_authn', 'ext_authz', 'ratelimit', 'local_ratelimit'];

/** `stats`: where the listener's filters keep their named counters (the proxy's store; a private one when absent). */
export function compileListener(raw: Raw, stats?: StatStore): Result<ListenerConfig, FieldError[]> {
  const errors = new Errors();
  const name = str(raw['name']) ?? '';
  if (name === '') errors.add('name', 'listener needs a name');
  const sa = obj(obj(raw['address'])?.['socket_address']);
  const address = str(sa?.['address']) ?? '0.0.0.0';
  const port = typeof sa?.['port_value'] === 'number' ? sa['port_value'] : -1;
  if (port < 0 || port > 65535) errors.add('address.socket_address.port_value', 'listener needs a port 0..65535');
  const chains: FilterChainConfig[] = [];
  arr(raw['filter_chains']).forEach((c, i) => {
    const fc = compileChain(obj(c) ?? {}, at('filter_chains', i), errors, stats);
    if (fc) chains.push(fc);
  });
  const dc = obj(raw['default_filter_chain']);
  const defaultChain = dc ? compileChain(dc, 'default_filter_chain', errors, stats) : undefined;
  if (chains.length === 0 && !defaultChain) errors.add('filter_chains', 'listener needs at least one filter chain');
  const inspector = arr(raw['listener_filters']).some((f) => str(obj(f)?.['name']) === 'envoy.filters.listener.tls_inspector' || (str(obj(obj(f)?.['typed_config'])?.['@type']) ?? '').endsWith('.TlsInspector'));
  const needsHello = [...chains, ...(defaultChain ? [defaultChain] : [])].some((c) => c.match.serverNames.length > 0 || c.match.transportProtocol === 'tls' || c.match.applicationProtocols.length > 0);
  const value: ListenerConfig = {
    name,
    address,
    port,
    bindToPort: bool(raw['bind_to_port']) !== false,
    useOriginalDst: bool(raw['use_original_dst']) === true,
    chains,
    defaultChain,
    inspectTls: inspector || needsHello,
  };
  return errors.any ? { ok: false, error: errors.list } : { ok: true, value };
}

function compileChain(raw: Raw, path: string, errors: Errors, stats: StatStore | undefined): FilterChainConfig | undefined {
  const m = obj(raw['filter_chain_match']) ?? {};
  const filters = arr(raw['filters']);
  let action: NetworkAction | undefined;
  let rbac: NetworkRbac | undefined;
  filters.forEach((f, i) => {
    const fo = obj(f) ?? {};
    const fpath = at(at(path, 'filters'), i);
    const tc = obj(fo['typed_config']) ?? {};
    const type = str(tc['@type']) ?? '';
    const fname = str(fo['name']) ?? '';
    if (type === HCM || fname === 'envoy.filters.network.http_connection_manager') {
      const hcm = compileHcm(tc, at(fpath, 'typed_config'), errors, stats);
      if (hcm) action = { kind: 'http', hcm };
    } else if (type === TCP_PROXY || fname === 'envoy.filters.network.tcp_proxy') {
      const tcp = compileTcpProxy(tc, at(fpath, 'typed_config'), errors);
      if (tcp) action = tcp;
    } else if (fname === 'envoy.filters.network.rbac' || type.endsWith('.network.rbac.v3.RBAC')) {
      try {
        rbac = buildNetworkRbac(tc, stats);
      } catch (e) {
        errors.add(at(fpath, 'typed_config'), e instanceof Error ? e.message : String(e));
      }
    } else if (fname.includes('ext_authz') || type.includes('ext_authz')) {
      errors.add(fpath, 'network ext_authz is not implemented in this proxy; refusing the listener rather than serving without the policy');
    }
    // Other network filters (istio.metadata_exchange, stats) are observability-only and ignored.
  });
  if (rbac && action?.kind === 'tcp') action = { ...action, rbac };
  if (!action) {
    errors.add(at(path, 'filters'), 'filter chain needs an http_connection_manager or tcp_proxy filter');
    return undefined;
  }
  const match = compileChainMatch(m, at(path, 'filter_chain_match'), errors);
  const tls = compileDownstreamTls(raw['transport_socket'], at(path, 'transport_socket'), errors);
  return { name: str(raw['name']) ?? '', match, destinationPort: match.destinationPort, transportProtocol: match.transportProtocol, tls, action };
}

function compileTcpProxy(tc: Raw, path: string, errors: Errors): TcpAction | undefined {
  const statPrefix = str(tc['stat_prefix']) ?? '';
  const idleTimeoutMs = durationMs(tc['idle_timeout']) ?? 3_600_000;
  if (Number.isNaN(idleTimeoutMs)) errors.add(at(path, 'idle_timeout'), 'malformed duration');
  const cluster = str(tc['cluster']);
  if (cluster) return { kind: 'tcp', cluster, weighted: [], statPrefix, idleTimeoutMs };
  const wc = obj(tc['weighted_clusters']);
  if (!wc) {
    errors.add(at(path, 'cluster'), 'tcp_proxy needs a cluster or weighted_clusters');
    return undefined;
  }
  const weighted: Array<{ name: string; weight: number }> = [];
  arr(wc['clusters']).forEach((c, i) => {
    const co = obj(c) ?? {};
    const name = str(co['name']);
    const weight = wrappedNum(co['weight']) ?? 0;
    if (!name) errors.add(at(at(path, 'weighted_clusters.clusters'), i), 'weighted cluster needs a name');
    else if (weight > 0) weighted.push({ name, weight });
  });
  if (weighted.length === 0) {
    errors.add(at(path, 'weighted_clusters.clusters'), 'weighted_clusters needs at least one cluster with a weight above 0');
    return undefined;
  }
  return { kind: 'tcp', cluster: weighted[0]!.name, weighted, statPrefix, idleTimeoutMs };
}

function compileHcm(raw: Raw, path: string, errors: Errors, stats: StatStore | undefined): HcmConfig | undefined {
  let route: HcmConfig['route'] | undefined;
  const rds = obj(raw['rds']);
  if (rds) {
    const n = str(rds['route_config_name']);
    if (!n) errors.add(at(path, 'rds.route_config_name'), 'rds needs a route_config_name');
    else route = { kind: 'rds', name: n };
  } else if (obj(raw['route_config'])) {
    const compiled = compileRouteConfiguration(obj(raw['route_config'])!);
    if (compiled.ok) route = { kind: 'inline', table: compiled.value };
    else for (const e of compiled.error) errors.add(at(at(path, 'route_config'), e.path), e.message);
  } else errors.add(path, 'http_connection_manager needs rds or route_config (scoped routes are not supported)');
  const ignored: string[] = [];
  let sawRouter = false;
  arr(raw['http_filters']).forEach((f, i) => {
    const fo = obj(f) ?? {};
    const fname = str(fo['name']) ?? '';
    const type = str(obj(fo['typed_config'])?.['@type']) ?? '';
    if (fname === 'envoy.filters.http.router' || type.endsWith('.router.v3.Router')) {
      sawRouter = true;
      return;
    }
    if (isSecurityFilter(fname, type)) return; // compiled below, as one chain
    if (enforcingFilters.some((e) => fname.includes(e) || type.includes(`.${e}.`)) && fo['is_optional'] !== true) {
      errors.add(at(at(path, 'http_filters'), i), `HTTP filter ${fname || type} is not implemented in this proxy; refusing rather than serving without the policy`);
      return;
    }
    ignored.push(fname || type);
  });
  if (!sawRouter) errors.add(at(path, 'http_filters'), 'the HTTP filter chain must end with envoy.filters.http.router');
  let security: HttpSecurity | undefined;
  try {
    security = buildHttpSecurity(arr(raw['http_filters']), {}, stats ? { store: stats, statPrefix: str(raw['stat_prefix']) ?? '' } : undefined);
  } catch (e) {
    errors.add(at(path, 'http_filters'), e instanceof Error ? e.message : String(e));
  }
  const tracing = compileTracing(raw['tracing'], at(path, 'tracing'), errors, ignored, raw['request_id_extension'], at(path, 'request_id_extension'));
  const transform = str(raw['server_header_transformation']) ?? 'OVERWRITE';
  const idle = durationMs(raw['stream_idle_timeout']);
  const headersTimeout = durationMs(raw['request_headers_timeout']);
  if (!route) return undefined;
  return {
    statPrefix: str(raw['stat_prefix']) ?? '',
    route,
    useRemoteAddress: bool(raw['use_remote_address']) === true,
    xffNumTrustedHops: typeof raw['xff_num_trusted_hops'] === 'number' ? raw['xff_num_trusted_hops'] : 0,
    serverName: str(raw['server_name']) ?? 'envoy',
    serverHeaderTransformation: transform === 'PASS_THROUGH' ? 'pass_through' : transform === 'APPEND_IF_ABSENT' ? 'append_if_absent' : 'overwrite',
    generateRequestId: bool(raw['generate_request_id']) !== false,
    streamIdleTimeoutMs: idle === undefined || Number.isNaN(idle) ? 300_000 : idle,
    idleTimeoutMs: durationMs(obj(raw['common_http_protocol_options'])?.['idle_timeout']) ?? 3_600_000,
    maxHeaderBytes: (wrappedNum(raw['max_request_headers_kb']) || 60) * 1024,
    requestHeadersTimeoutMs: headersTimeout === undefined || Number.isNaN(headersTimeout) ? DEFAULT_REQUEST_HEADERS_TIMEOUT_MS : headersTimeout,
    maxHeadersCount: wrappedNum(obj(raw['common_http_protocol_options'])?.['max_headers_count']) || DEFAULT_MAX_HEADERS_COUNT,
    ignoredFilters: ignored,
    security,
    pathNormalization: normalizationOfHcm(raw),
    tracing,
  };
}

/**
 * The filter chain for a connection (Envoy's FilterChainMatch order, see chain-match.ts), else the default chain.
 * A bare port means a plaintext connection about which nothing else is known.
 */
export function selectChain(l: ListenerConfig, facts: ConnectionFacts | number): FilterChainConfig | undefined {
  const f: ConnectionFacts = typeof facts === 'number' ? { port: facts, address: undefined, sni: undefined, transport: 'raw_buffer', alpn: [], sourceAddress: undefined, sourcePort: undefined } : facts;
  return matchChain(l.chains, f) ?? l.defaultChain;
}
