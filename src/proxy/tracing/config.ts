// The HTTP connection manager's `tracing` field compiled once per config: the tracer (OpenTelemetry over gRPC or
// HTTP, or Zipkin v2 JSON over HTTP) and where it exports (a cluster), sampling, custom tags. Tracers this proxy
// does not implement (Datadog, SkyWalking …) turn tracing off for that HCM and are listed, never a NACK: tracing
// is observability, and traffic must not fail because of it.
import { type Errors, type Raw, arr, at, durationMs, num, obj, str } from '../config/raw.ts';

export const OTEL_TRACER = 'envoy.tracers.opentelemetry';
export const ZIPKIN_TRACER = 'envoy.tracers.zipkin';
const OTEL_TYPE = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';
const ZIPKIN_TYPE = 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig';

/** Where and how spans are exported. `cluster` is resolved to a host at each export (its endpoints may change). */
export type TracerProvider =
  | { kind: 'otlp-grpc'; cluster: string; authority: string; serviceName: string; timeoutMs: number; metadata: ReadonlyArray<readonly [string, string]> }
  | { kind: 'otlp-http'; cluster: string; host: string; path: string; timeoutMs: number; headers: ReadonlyArray<readonly [string, string]>; serviceName: string }
  | { kind: 'zipkin'; cluster: string; host: string; path: string; traceId128: boolean };

/** A span tag whose value is fixed, or read from the proxy's environment or the request's headers. */
export type CustomTagConfig =
  | { tag: string; kind: 'literal'; value: string }
  | { tag: string; kind: 'environment'; name: string; defaultValue: string }
  | { tag: string; kind: 'header'; name: string; defaultValue: string };

export interface TracingConfig {
  provider: TracerProvider;
  /** Percent (0–100) of requests without an upstream decision that start a sampled trace (Envoy random_sampling; default 100). */
  randomSampling: number;
  /** Percent of requests with `x-client-trace-id` that are force-sampled (client_sampling; default 100). */
  clientSampling: number;
  /** Cap on the sampled share after the other decisions (overall_sampling; default 100). */
  overallSampling: number;
  customTags: readonly CustomTagConfig[];
  /** A client span for the upstream request beside the server span (gateways). */
  spawnUpstreamSpan: boolean;
  /** Longest http.url tag value (max_path_tag_length; Envoy's default 256). */
  maxPathTagLength: number;
  /**
   * Decide new traces from x-request-id, as Envoy's UUID request id extension does (use_request_id_for_trace_sampling,
   * default true): the id's first 8 hex digits mod 10,000 against the sampling percentages, so every hop that sees
   * the same id decides the same; a reason packed into the id by an earlier hop (sampled/forced/client) is honoured.
   * False: a random draw per request.
   */
  useRequestIdForTraceSampling: boolean;
  /** Write the decision into the forwarded x-request-id (pack_trace_reason, default true). */
  packTraceReason: boolean;
  /** The provider as a stable string: HCMs with equal keys share one exporter and its queue. */
  providerKey: string;
}

function percent(v: unknown, fallback: number): number {
  const n = num(obj(v)?.['value']);
  return n === undefined || Number.isNaN(n) ? fallback : Math.min(100, Math.max(0, n));
}

/** `host/path` or `http://host/path` (Envoy's http_uri.uri) → the path, `/v1/traces` when none. */
function uriPath(uri: string): string {
  const noScheme = uri.replace(/^[a-z]+:\/\//i, '');
  const slash = noScheme.indexOf('/');
  return slash < 0 ? '/v1/traces' : noScheme.slice(slash);
}

function uriHost(uri: string): string {
  const noScheme = uri.replace(/^[a-z]+:\/\//i, '');
  const slash = noScheme.indexOf('/');
  return slash < 0 ? noScheme : noScheme.slice(0, slash);
}

/** HeaderValue entries (`{ key, value }`) as lowercase name/value pairs. */
function headerValues(raw: unknown): Array<readonly [string, string]> {
  const out: Array<readonly [string, string]> = [];
  for (const h of arr(raw)) {
    const k = str(obj(h)?.['key']);
    if (k) out.push([k.toLowerCase(), str(obj(h)?.['value']) ?? '']);
  }
  return out;
}

function compileProvider(raw: Raw, path: string, errors: Errors): TracerProvider | string {
  const fail = (where: string, message: string): string => {
    errors.add(at(path, where), message);
    return 'invalid';
  };
  const name = str(raw['name']) ?? '';
  const tc = obj(raw['typed_config']) ?? {};
  const type = str(tc['@type']) ?? '';
  if (name === OTEL_TRACER || type === OTEL_TYPE) {
    const serviceName = str(tc['service_name']) || 'istio-proxy';
    const grpc = obj(obj(tc['grpc_service'])?.['envoy_grpc']);
    const http = obj(tc['http_service']);
    if (grpc) {
      const cluster = str(grpc['cluster_name']);
      if (!cluster) return fail('typed_config.grpc_service.envoy_grpc.cluster_name', 'the OpenTelemetry tracer needs a cluster');
      const gs = obj(tc['grpc_service']) ?? {};
      const metadata = headerValues(gs['initial_metadata']);
      return { kind: 'otlp-grpc', cluster, authority: str(grpc['authority']) || cluster, serviceName, timeoutMs: durationMs(gs['timeout']) || 5000, metadata };
    }
    if (http) {
      const uri = obj(http['http_uri']) ?? {};
      const cluster = str(uri['cluster']);
      if (!cluster) return fail('typed_config.http_service.http_uri.cluster', 'the OpenTelemetry tracer needs a cluster');
      const u = str(uri['uri']) ?? '';
      const headers = headerValues(arr(http['request_headers_to_add']).map((h) => obj(h)?.['header']));
      return { kind: 'otlp-http', cluster, host: uriHost(u) || cluster, path: uriPath(u), timeoutMs: durationMs(uri['timeout']) || 5000, headers, serviceName };
    }
    return fail('typed_config', 'the OpenTelemetry tracer needs grpc_service.envoy_grpc or http_service');
  }
  if (name === ZIPKIN_TRACER || type === ZIPKIN_TYPE) {
    const cluster = str(tc['collector_cluster']);
    if (!cluster) return fail('typed_config.collector_cluster', 'the Zipkin tracer needs collector_cluster');
    const version = str(tc['collector_endpoint_version']) ?? 'HTTP_JSON';
    if (version === 'HTTP_PROTO' || version === 'GRPC') return `${ZIPKIN_TRACER} with collector_endpoint_version ${version} (only HTTP_JSON is supported)`;
    return { kind: 'zipkin', cluster, host: str(tc['collector_hostname']) || cluster, path: str(tc['collector_endpoint']) || '/api/v2/spans', traceId128: tc['trace_id_128bit'] === true };
  }
  return name || type || 'a tracer without a name';
}

function compileTags(raw: unknown): CustomTagConfig[] {
  const out: CustomTagConfig[] = [];
  for (const t of arr(raw)) {
    const o = obj(t) ?? {};
    const tag = str(o['tag']);
    if (!tag) continue;
    const lit = obj(o['literal']);
    const env = obj(o['environment']);
    const hdr = obj(o['request_header']);
    if (lit) out.push({ tag, kind: 'literal', value: str(lit['value']) ?? '' });
    else if (env && str(env['name'])) out.push({ tag, kind: 'environment', name: str(env['name'])!, defaultValue: str(env['default_value']) ?? '' });
    else if (hdr && str(hdr['name'])) out.push({ tag, kind: 'header', name: str(hdr['name'])!.toLowerCase(), defaultValue: str(hdr['default_value']) ?? '' });
    // metadata tags (dynamic or cluster metadata) are not supported and are skipped.
  }
  return out;
}

const UUID_REQUEST_ID = 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig';

/**
 * HCM `request_id_extension` (UuidRequestIdConfig; Envoy's default when absent: both flags true). Another extension
 * (its own id format) is not understood here: new traces are then sampled at random and the id is left alone.
 */
function compileRequestId(raw: unknown, path: string, unsupported: string[]): { useRequestIdForTraceSampling: boolean; packTraceReason: boolean } {
  const tc = obj(obj(raw)?.['typed_config']);
  if (!tc) return { useRequestIdForTraceSampling: true, packTraceReason: true };
  const type = str(tc['@type']);
  if (type !== UUID_REQUEST_ID) {
    unsupported.push(`${path}: ${String(type)} (not supported: trace sampling is random per request)`);
    return { useRequestIdForTraceSampling: false, packTraceReason: false };
  }
  const flag = (v: unknown): boolean => obj(v)?.['value'] !== false && v !== false;
  return { useRequestIdForTraceSampling: flag(tc['use_request_id_for_trace_sampling']), packTraceReason: flag(tc['pack_trace_reason']) };
}

/**
 * HCM `tracing` (and its `request_id_extension`) → TracingConfig; undefined when absent, when it names no provider
 * (nothing to export to), or when its tracer is not implemented here (then `unsupported` receives a description for
 * config_dump).
 */
export function compileTracing(raw: unknown, path: string, errors: Errors, unsupported: string[], requestIdExtension?: unknown, requestIdPath = 'request_id_extension'): TracingConfig | undefined {
  const t = obj(raw);
  if (!t) return undefined;
  const p = obj(t['provider']);
  if (!p) return undefined;
  const provider = compileProvider(p, at(path, 'provider'), errors);
  if (typeof provider === 'string') {
    if (provider !== 'invalid') unsupported.push(`tracing: ${provider} (not supported: no spans are exported)`);
    return undefined;
  }
  return {
    provider,
    randomSampling: percent(t['random_sampling'], 100),
    clientSampling: percent(t['client_sampling'], 100),
    overallSampling: percent(t['overall_sampling'], 100),
    customTags: compileTags(t['custom_tags']),
    spawnUpstreamSpan: obj(t['spawn_upstream_span'])?.['value'] === true,
    maxPathTagLength: num(obj(t['max_path_tag_length'])?.['value']) || 256,
    ...compileRequestId(requestIdExtension, requestIdPath, unsupported),
    providerKey: JSON.stringify(provider),
  };
}
