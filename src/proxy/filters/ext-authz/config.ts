// The ext_authz filter's typed_config (envoy.extensions.filters.http.ext_authz.v3.ExtAuthz), parsed once: where the
// authorizer is (HTTP service or gRPC service, by cluster), what is sent, what comes back, and what happens when the
// authorizer is unreachable (failure_mode_allow, status_on_error).
import { WeftError } from '../../../core/errors.ts';
import { Errors, arr, at, bool, durationMs, num, obj, str } from '../../config/raw.ts';
import { compileStringMatcher, type StringTest } from '../../router/matchers.ts';

/** Header-name patterns (ListStringMatcher); names are lower-case. */
export type HeaderNameTest = (name: string) => boolean;

export interface ExtAuthzConfig {
  transport: { kind: 'http'; uri: string; cluster: string; pathPrefix: string; headersToAdd: ReadonlyArray<[string, string]> } | { kind: 'grpc'; cluster: string; authority: string };
  timeoutMs: number;
  failureModeAllow: boolean;
  /** With failure_mode_allow: mark a request let through on an authorizer error with x-envoy-auth-failure-mode-allowed: true (failure_mode_allow_header_add, default off). */
  failureModeAllowHeaderAdd: boolean;
  /** Status sent when the authorizer fails and failure_mode_allow is off (Envoy default 403). */
  statusOnError: number;
  /** Request headers sent to an HTTP authorizer, besides the ones Envoy always sends. */
  allowedHeaders: HeaderNameTest | undefined;
  /** Authorizer response headers copied to the upstream request on allow. */
  allowedUpstreamHeaders: HeaderNameTest | undefined;
  /** Authorizer response headers copied to the client on deny (all when unset). */
  allowedClientHeaders: HeaderNameTest | undefined;
  /** Dynamic metadata that must match for the filter to run (Istio: the CUSTOM shadow RBAC matched). */
  enabledMetadata: { filter: string; key: string; test: StringTest } | undefined;
  /** Max request body bytes sent along (0 = none). */
  maxRequestBytes: number;
}

function patterns(raw: unknown, path: string, errors: Errors): HeaderNameTest | undefined {
  const o = obj(raw);
  if (!o) return undefined;
  const tests = arr(o['patterns']).map((p, i) => compileStringMatcher(p, at(at(path, 'patterns'), i), errors)).filter((t): t is StringTest => t !== undefined);
  return (name) => tests.some((t) => t(name));
}

export function parseExtAuthzConfig(typedConfig: unknown, path = 'typed_config'): ExtAuthzConfig {
  const tc = obj(typedConfig) ?? {};
  const errors = new Errors();
  let transport: ExtAuthzConfig['transport'] | undefined;
  let timeoutMs = 200; // Envoy's default for both services
  let allowedUpstreamHeaders: HeaderNameTest | undefined;
  let allowedClientHeaders: HeaderNameTest | undefined;
  const httpService = obj(tc['http_service']);
  const grpcService = obj(tc['grpc_service']);
  if (httpService) {
    const su = obj(httpService['server_uri']) ?? {};
    const uri = str(su['uri']) ?? '';
    const cluster = str(su['cluster']) ?? '';
    if (!/^https?:\/\//.test(uri)) errors.add(at(at(path, 'http_service'), 'server_uri'), 'server_uri needs an http:// uri');
    timeoutMs = durationMs(su['timeout']) ?? timeoutMs;
    const req = obj(httpService['authorization_request']) ?? {};
    const headersToAdd = arr(req['headers_to_add']).map((h) => [(str(obj(h)?.['key']) ?? '').toLowerCase(), str(obj(h)?.['value']) ?? ''] as [string, string]);
    const res = obj(httpService['authorization_response']) ?? {};
    allowedUpstreamHeaders = patterns(res['allowed_upstream_headers'], at(path, 'allowed_upstream_headers'), errors);
    allowedClientHeaders = patterns(res['allowed_client_headers'], at(path, 'allowed_client_headers'), errors);
    transport = { kind: 'http', uri, cluster, pathPrefix: str(httpService['path_prefix']) ?? '', headersToAdd };
  } else if (grpcService) {
    const eg = obj(grpcService['envoy_grpc']) ?? {};
    const cluster = str(eg['cluster_name']) ?? '';
    if (cluster === '') errors.add(at(path, 'grpc_service'), 'only envoy_grpc with a cluster_name is supported');
    timeoutMs = durationMs(grpcService['timeout']) ?? timeoutMs;
    transport = { kind: 'grpc', cluster, authority: str(eg['authority']) ?? cluster };
  } else errors.add(path, 'ext_authz needs http_service or grpc_service');
  let enabledMetadata: ExtAuthzConfig['enabledMetadata'];
  const fem = obj(tc['filter_enabled_metadata']);
  if (fem) {
    const keys = arr(fem['path']).map((p) => str(obj(p)?.['key']) ?? '');
    const test = compileStringMatcher(obj(fem['value'])?.['string_match'], at(path, 'filter_enabled_metadata'), errors);
    if (keys.length !== 1 || !test) errors.add(at(path, 'filter_enabled_metadata'), 'only a single-key string match is supported');
    else enabledMetadata = { filter: str(fem['filter']) ?? '', key: keys[0]!, test };
  }
  if (errors.any || !transport) {
    throw new WeftError('WEFT_ERR_CONFIG_INVALID', `ext_authz filter rejected: ${errors.list.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
  return {
    transport,
    timeoutMs,
    failureModeAllow: bool(tc['failure_mode_allow']) === true,
    failureModeAllowHeaderAdd: bool(tc['failure_mode_allow_header_add']) === true,
    statusOnError: num(obj(tc['status_on_error'])?.['code']) ?? httpStatusCode(obj(tc['status_on_error'])?.['code']) ?? 403,
    allowedHeaders: patterns(tc['allowed_headers'], at(path, 'allowed_headers'), errors),
    allowedUpstreamHeaders,
    allowedClientHeaders,
    enabledMetadata,
    maxRequestBytes: num(obj(tc['with_request_body'])?.['max_request_bytes']) ?? 0,
  };
}

/** envoy.type.v3.StatusCode enum names as decodeAny returns them. */
function httpStatusCode(name: unknown): number | undefined {
  const table: Record<string, number> = { Forbidden: 403, Unauthorized: 401, InternalServerError: 500, ServiceUnavailable: 503, BadGateway: 502, GatewayTimeout: 504, TooManyRequests: 429, BadRequest: 400, NotFound: 404, OK: 200 };
  return typeof name === 'string' ? table[name] : undefined;
}
