// The HTTP connection manager `tracing` field, as Istio builds it: the Telemetry API's tracing settings (mesh-wide
// in the root namespace, then the proxy's namespace, then workload selectors), falling back to MeshConfig
// `defaultProviders.tracing`, turned into an Envoy tracer (`envoy.tracers.opentelemetry` or `envoy.tracers.zipkin`)
// that exports to the provider's service cluster, with sampling and Istio's span tags. Pure.
import { outboundCluster } from '../../core/names/cluster-name.ts';
import type { CustomTag, Tracing } from '../../config/api/telemetry/telemetry.ts';
import { policiesFor } from '../snapshot/policies.ts';
import type { ProxyView } from '../snapshot/view.ts';
import type { Json } from './common.ts';

/** Which HTTP connection manager the tracing is for: the client side (sidecar outbound, gateway) or the server side. */
export type TracingListenerClass = 'sidecar-outbound' | 'sidecar-inbound' | 'gateway';

export const TracerTypes = {
  zipkin: 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
  opentelemetry: 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
} as const;

/** One side's effective settings after merging the Telemetry resources that apply (Istio's TracingSpec). */
interface TracingSpec {
  providerName: string | undefined;
  /** Percent of new traces sampled; undefined = the mesh's default (defaultConfig.tracing.sampling, else 1%). */
  randomSamplingPercentage: number | undefined;
  disabled: boolean;
  enableIstioTags: boolean;
  /** Telemetry useRequestIdForTraceSampling (default true): sampling follows x-request-id, the same at every hop. */
  useRequestIdForTraceSampling: boolean;
  customTags: Record<string, CustomTag>;
}

/** Istio's merge of tracing settings: mesh, then namespace, then workload; later levels override field by field. */
function tracingSpecs(view: ProxyView): { client: TracingSpec; server: TracingSpec } | undefined {
  const mesh = view.snapshot.mesh;
  const defaults = mesh.defaultProviders.tracing ?? [];
  const entries: Tracing[] = [];
  for (const p of policiesFor(view.snapshot, 'Telemetry', view.proxy)) {
    const t = (p.resource.spec as { tracing?: Tracing[] } | undefined)?.tracing;
    // Only one tracing entry per resource is supported (validation warns about the others).
    if (Array.isArray(t) && t[0]) entries.push(t[0]);
  }
  if (entries.length === 0 && defaults.length === 0) return undefined;
  const fresh = (): TracingSpec => ({ providerName: defaults[0], randomSamplingPercentage: undefined, disabled: false, enableIstioTags: true, useRequestIdForTraceSampling: true, customTags: {} });
  const client = fresh();
  const server = fresh();
  for (const e of entries) {
    const mode = e.match?.mode ?? 'CLIENT_AND_SERVER';
    const specs = mode === 'CLIENT' ? [client] : mode === 'SERVER' ? [server] : [client, server];
    const name = e.providers?.[0]?.name;
    for (const s of specs) {
      if (name) s.providerName = name;
      if (typeof e.randomSamplingPercentage === 'number') s.randomSamplingPercentage = e.randomSamplingPercentage;
      if (typeof e.disableSpanReporting === 'boolean') s.disabled = e.disableSpanReporting;
      if (typeof e.enableIstioTags === 'boolean') s.enableIstioTags = e.enableIstioTags;
      if (typeof e.useRequestIdForTraceSampling === 'boolean') s.useRequestIdForTraceSampling = e.useRequestIdForTraceSampling;
      // customTags replace the parent level's as a whole (Istio's merge is shallow for this field).
      if (e.customTags) s.customTags = { ...e.customTags };
    }
  }
  return { client, server };
}

/** `service` of a provider: `host` or `namespace/host`, looked up in the registry (as Istio does) → its outbound cluster. */
function providerCluster(snapshot: ProxyView['snapshot'], service: unknown, port: unknown): { host: string; cluster: string } | undefined {
  if (typeof service !== 'string' || service === '' || typeof port !== 'number') return undefined;
  const slash = service.indexOf('/');
  const ns = slash < 0 ? undefined : service.slice(0, slash);
  const host = slash < 0 ? service : service.slice(slash + 1);
  const svc = (snapshot.servicesByHost.get(host) ?? []).find((s) => ns === undefined || s.namespace === ns);
  if (!svc) return undefined;
  return { host: svc.hostname, cluster: outboundCluster(svc.hostname, port) };
}

const rec = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The proxy's service name as Istio's default tracingServiceName (APP_LABEL_AND_NAMESPACE) gives it. */
function serviceName(view: ProxyView): string {
  return `${canonicalService(view.proxy.labels) ?? 'istio-proxy'}.${view.proxy.namespace}`;
}

function canonicalService(labels: Readonly<Record<string, string>>): string | undefined {
  return labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels['app'];
}

/** The tracer (`provider` of HCM tracing) for an extension provider; undefined when it is unknown or unsupported. */
function tracerFor(view: ProxyView, name: string): Json | undefined {
  const provider = view.snapshot.mesh.extensionProviders.find((p) => p['name'] === name);
  if (!provider) return undefined;
  const otel = rec(provider['opentelemetry']);
  if (otel) {
    const target = providerCluster(view.snapshot, otel['service'], otel['port']);
    if (!target) return undefined;
    const http = rec(otel['http']);
    const config: Json = { '@type': TracerTypes.opentelemetry, service_name: serviceName(view) };
    if (http) {
      const path = typeof http['path'] === 'string' && http['path'] !== '' ? http['path'] : '/v1/traces';
      const uri: Json = { uri: `${target.host}${path.startsWith('/') ? '' : '/'}${path}`, cluster: target.cluster, timeout: goDuration(http['timeout']) ?? { seconds: 5 } };
      const headers = headerList(http['headers']);
      config['http_service'] = { http_uri: uri, ...(headers.length > 0 ? { request_headers_to_add: headers.map((h) => ({ header: { key: h['name'], value: h['value'] } })) } : {}) };
    } else {
      // Istio's `grpc` settings: the export deadline and metadata sent with every export (tenant ids, API keys).
      const grpc = rec(otel['grpc']);
      const timeout = goDuration(grpc?.['timeout']);
      const metadata = headerList(grpc?.['initialMetadata']);
      config['grpc_service'] = {
        envoy_grpc: { cluster_name: target.cluster, authority: target.host },
        ...(timeout ? { timeout } : {}),
        ...(metadata.length > 0 ? { initial_metadata: metadata.map((h) => ({ key: h['name'], value: h['value'] })) } : {}),
      };
    }
    return { name: 'envoy.tracers.opentelemetry', typed_config: config };
  }
  const zipkin = rec(provider['zipkin']);
  if (zipkin) {
    const target = providerCluster(view.snapshot, zipkin['service'], zipkin['port']);
    if (!target) return undefined;
    const path = typeof zipkin['path'] === 'string' && zipkin['path'] !== '' ? zipkin['path'] : '/api/v2/spans';
    return {
      name: 'envoy.tracers.zipkin',
      typed_config: {
        '@type': TracerTypes.zipkin,
        collector_cluster: target.cluster,
        collector_endpoint: path,
        collector_endpoint_version: 'HTTP_JSON',
        collector_hostname: target.host,
        trace_id_128bit: zipkin['enable64bitTraceId'] !== true,
        shared_span_context: { value: false },
      },
    };
  }
  return undefined;
}

/** MeshConfig HttpHeader entries (`{ name, value }`) that have both. */
function headerList(v: unknown): Array<Record<string, unknown>> {
  return Array.isArray(v) ? v.map(rec).filter((h): h is Record<string, unknown> => h !== undefined && typeof h['name'] === 'string' && typeof h['value'] === 'string') : [];
}

/** A Go duration (`5s`, `500ms`) as google.protobuf.Duration; undefined when absent or malformed. */
function goDuration(v: unknown): Json | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v);
  if (!m) return undefined;
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos === 0 ? { seconds } : { seconds, nanos };
}

/** Istio's service tags (literals from the proxy's identity) and the Telemetry custom tags, sorted by name. */
function customTags(view: ProxyView, spec: TracingSpec): Json[] {
  const tags: Json[] = [];
  const literal = (tag: string, value: string): Json => ({ tag, literal: { value } });
  if (spec.enableIstioTags) {
    const p = view.proxy;
    const mesh = view.snapshot.mesh;
    tags.push(
      literal('istio.canonical_revision', p.labels['service.istio.io/canonical-revision'] ?? p.labels['app.kubernetes.io/version'] ?? p.labels['version'] ?? 'latest'),
      literal('istio.canonical_service', canonicalService(p.labels) ?? 'unknown'),
      literal('istio.cluster_id', p.clusterId || 'unknown'),
      literal('istio.mesh_id', mesh.meshId),
      literal('istio.namespace', p.namespace || 'default'),
    );
  }
  for (const [tag, t] of Object.entries(spec.customTags)) {
    if (t.literal) tags.push(literal(tag, t.literal.value));
    else if (t.environment) tags.push({ tag, environment: { name: t.environment.name, ...(t.environment.defaultValue !== undefined ? { default_value: t.environment.defaultValue } : {}) } });
    else if (t.header) tags.push({ tag, request_header: { name: t.header.name, ...(t.header.defaultValue !== undefined ? { default_value: t.header.defaultValue } : {}) } });
    // `formatter` tags (Envoy command operators) have no CustomTag form in Envoy's v3 API; Istio drops them too.
  }
  return tags.sort((a, b) => (String(a['tag']) < String(b['tag']) ? -1 : String(a['tag']) > String(b['tag']) ? 1 : 0));
}

const UUID_REQUEST_ID = 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig';

/**
 * `{ tracing, request_id_extension }` for the HTTP connection managers of `cls`, or `{}` when no tracing provider
 * applies (or the Telemetry disables span reporting for that side, or MeshConfig `enableTracing` is false without a
 * Telemetry). The request id extension is Envoy's UUID one with the Telemetry's `useRequestIdForTraceSampling`
 * (default true), as istiod sets it; istiod puts it on every HCM, Weft only where there is tracing, the one place
 * it changes anything.
 * Istio also emits a provider-less `tracing` when only MeshConfig enables it (for the bootstrap's tracer); Weft's
 * proxy has no bootstrap tracer, so that case emits nothing.
 */
export function hcmTracing(view: ProxyView, cls: TracingListenerClass): Json {
  const specs = tracingSpecs(view);
  if (!specs) return {};
  const side = cls === 'sidecar-inbound' ? specs.server : specs.client;
  if (side.disabled || side.providerName === undefined) return {};
  // No Telemetry level sets customTags: MeshConfig defaultConfig.tracing.customTags, as Istio falls back to ProxyConfig.
  const spec: TracingSpec = Object.keys(side.customTags).length > 0 ? side : { ...side, customTags: { ...view.snapshot.mesh.tracingCustomTags } };
  const provider = tracerFor(view, side.providerName);
  if (!provider) return {};
  const mesh = view.snapshot.mesh;
  const sampling = spec.randomSamplingPercentage ?? mesh.tracingSampling;
  const tracing: Json = {
    client_sampling: { value: 100 },
    random_sampling: { value: sampling },
    overall_sampling: { value: 100 },
    custom_tags: customTags(view, spec),
    provider,
  };
  if (mesh.tracingMaxPathTagLength > 0) tracing['max_path_tag_length'] = { value: mesh.tracingMaxPathTagLength };
  // Gateways spawn a client span per upstream request beside their server span (Istio's default for gateways).
  if (cls === 'gateway') tracing['spawn_upstream_span'] = { value: true };
  return { tracing, request_id_extension: { typed_config: { '@type': UUID_REQUEST_ID, use_request_id_for_trace_sampling: { value: spec.useRequestIdForTraceSampling } } } };
}

/** A tracing setting that yields no spans (or less than it says), reported where it is written. */
export interface TracingFinding {
  /** `Telemetry <namespace>/<name>` or `MeshConfig`. */
  resource: string;
  /** Field path in that resource, e.g. `spec.tracing[0].providers[0].name`. */
  path: string;
  message: string;
}

/** Provider kinds Istio's MeshConfig has for tracing that Weft's proxies do not export to, with what to use instead. */
const UNSUPPORTED_TRACERS: Readonly<Record<string, string>> = {
  datadog: 'the Datadog Agent also accepts OTLP (enable its OTLP receiver, port 4317/4318) — point an opentelemetry provider at it',
  lightstep: 'Istio itself deprecated it (no spans with Istio either); Lightstep / Cloud Observability accepts OTLP — use an opentelemetry provider',
  skywalking: 'SkyWalking OAP accepts Zipkin and OTLP traces — use a zipkin or opentelemetry provider',
  stackdriver: 'Istio no longer traces to it either; export through an OpenTelemetry Collector (opentelemetry provider) to Cloud Trace',
  opencensus: 'OpenCensus is retired; use an opentelemetry provider',
};

/** Fields of supported providers that Weft accepts without effect. */
const IGNORED_FIELDS: Readonly<Record<string, readonly string[]>> = {
  opentelemetry: ['resourceDetectors', 'dynatraceSampler', 'serviceAttributeEnrichment'],
  zipkin: ['traceContextOption', 'timeout', 'headers'],
};

/** What is wrong with tracing to provider `name`, selected at `resource` `path` (none = it yields spans). */
function providerFindings(snapshot: ProxyView['snapshot'], name: string, resource: string, path: string): TracingFinding[] {
  const providers = snapshot.mesh.extensionProviders;
  const i = providers.findIndex((p) => p['name'] === name);
  const provider = providers[i];
  if (!provider) return [{ resource, path, message: `names extension provider "${name}", which MeshConfig extensionProviders does not define: no spans are reported; add it to the mesh config or fix the name` }];
  const kind = Object.keys(provider).find((k) => k !== 'name') ?? '';
  const unsupported = UNSUPPORTED_TRACERS[kind];
  if (unsupported !== undefined) return [{ resource, path, message: `selects extension provider "${name}" (${kind}): Weft's proxies export spans only to opentelemetry and zipkin providers, so no spans are reported; ${unsupported}` }];
  const body = rec(provider[kind]);
  if ((kind !== 'opentelemetry' && kind !== 'zipkin') || !body) return [{ resource, path, message: `selects extension provider "${name}" (${kind || 'no type'}), which is not a tracing provider: no spans are reported` }];
  const out: TracingFinding[] = [];
  if (!providerCluster(snapshot, body['service'], body['port'])) {
    out.push({ resource: 'MeshConfig', path: `extensionProviders[${name}].${kind}.service`, message: `tracing provider "${name}": service "${String(body['service'])}" port ${String(body['port'])} is not in the service registry, so no proxy exports to it; add a ServiceEntry (or Service) for the collector` });
  }
  for (const f of IGNORED_FIELDS[kind] ?? []) {
    if (body[f] !== undefined) out.push({ resource: 'MeshConfig', path: `extensionProviders[${name}].${kind}.${f}`, message: `tracing provider "${name}": ${f} is not supported by Weft's proxies and has no effect` });
  }
  return out;
}

/**
 * Tracing configuration that Weft accepts but that yields no spans, or not all it asks for: a Telemetry (or
 * MeshConfig defaultProviders.tracing) naming a provider that is undefined, of a kind Weft does not export to
 * (datadog, lightstep, skywalking, stackdriver, opencensus), not a tracer at all, or whose collector service is not in
 * the registry; provider fields without effect. Each finding names the resource and the field path. Pure.
 */
export function tracingFindings(snapshot: ProxyView['snapshot']): TracingFinding[] {
  const out: TracingFinding[] = [];
  const seen = new Set<string>();
  const add = (fs: TracingFinding[]): void => {
    for (const f of fs) {
      const k = `${f.resource}|${f.path}|${f.message}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
    }
  };
  const defaults = snapshot.mesh.defaultProviders.tracing ?? [];
  if (defaults[0] !== undefined) add(providerFindings(snapshot, defaults[0], 'MeshConfig', 'defaultProviders.tracing[0]'));
  for (const r of snapshot.configs) {
    if (r.kind !== 'Telemetry') continue;
    const first = (r.spec as { tracing?: Tracing[] } | undefined)?.tracing?.[0];
    const name = first?.providers?.[0]?.name;
    const resource = `Telemetry ${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
    for (const [tag, t] of Object.entries(first?.customTags ?? {})) {
      if (t?.formatter) add([{ resource, path: `spec.tracing[0].customTags[${tag}].formatter`, message: 'formatter custom tags are not supported by Weft (the Envoy API it speaks has none): the tag is left out of spans; use literal, environment or header' }]);
    }
    if (!first || !name || first.disableSpanReporting === true) continue;
    add(providerFindings(snapshot, name, resource, 'spec.tracing[0].providers[0].name'));
  }
  return out;
}

/** The findings of `snapshot` not in `seen` (lines to log once), and the set to keep for the next snapshot. */
export function newTracingFindings(seen: ReadonlySet<string>, snapshot: ProxyView['snapshot']): { lines: string[]; seen: Set<string> } {
  const now = new Set<string>();
  const lines: string[] = [];
  for (const f of tracingFindings(snapshot)) {
    const line = `tracing: ${f.resource} ${f.path}: ${f.message}`;
    now.add(line);
    if (!seen.has(line)) lines.push(line);
  }
  return { lines, seen: now };
}
