import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamInfo } from '../hcm/stream-info.ts';
import { Errors } from '../config/raw.ts';
import { type TracingConfig, compileTracing } from './config.ts';
import { type SpanRecord, spanTags } from './span.ts';
import { Tracer, fixedCustomTags } from './tracer.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

function config(over: Record<string, unknown> = {}, provider?: Record<string, unknown>): TracingConfig {
  const errors = new Errors();
  const ignored: string[] = [];
  const c = compileTracing({
    random_sampling: { value: 100 },
    custom_tags: [
      { tag: 'istio.canonical_service', literal: { value: 'reviews' } },
      { tag: 'istio.namespace', literal: { value: 'default' } },
      { tag: 'team', environment: { name: 'WEFT_TEST_UNSET_VARIABLE', default_value: 'none' } },
      { tag: 'tenant', request_header: { name: 'X-Tenant', default_value: '-' } },
    ],
    provider: provider ?? { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig', service_name: 'reviews.default', grpc_service: { envoy_grpc: { cluster_name: 'outbound|4317||otel', authority: 'otel' } } } },
    ...over,
  }, 'tracing', errors, ignored);
  assert.deepEqual(errors.list, []);
  assert.ok(c, `not compiled: ${ignored.join()}`);
  return c;
}

function tracer(cfg: TracingConfig, random: () => number = () => 0.5): { t: Tracer; spans: SpanRecord[] } {
  const spans: SpanRecord[] = [];
  const t = new Tracer(cfg, { record: (s) => spans.push(s), random, fixedTags: [['node_id', 'sidecar~10.0.0.1~reviews-1.default~default.svc.cluster.local'], ...fixedCustomTags(cfg.customTags, () => undefined)] });
  return { t, spans };
}

function info(over: Partial<StreamInfo> = {}): StreamInfo {
  const i = new StreamInfo();
  Object.assign(i, { method: 'GET', path: '/reviews/0', authority: 'reviews:9080', status: 200, requestId: 'req-1', upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local', downstreamRemote: '127.0.0.1:5555', bytesReceived: 10, bytesSent: 300, ...over });
  return i;
}

test('compile: unsupported tracers are listed, not rejected; a provider-less tracing config exports nothing', () => {
  const errors = new Errors();
  const ignored: string[] = [];
  assert.equal(compileTracing({ provider: { name: 'envoy.tracers.datadog', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.DatadogConfig' } } }, 'tracing', errors, ignored), undefined);
  assert.deepEqual(errors.list, []);
  assert.match(ignored[0]!, /envoy\.tracers\.datadog/);
  assert.equal(compileTracing({ random_sampling: { value: 5 } }, 'tracing', errors, ignored), undefined);
  const zipkin = config({}, { name: 'envoy.tracers.zipkin', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig', collector_cluster: 'outbound|9411||zipkin', collector_endpoint: '/api/v2/spans', collector_endpoint_version: 'HTTP_JSON', collector_hostname: 'zipkin', trace_id_128bit: true } });
  assert.deepEqual(zipkin.provider, { kind: 'zipkin', cluster: 'outbound|9411||zipkin', host: 'zipkin', path: '/api/v2/spans', traceId128: true });
  const http = config({}, { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig', http_service: { http_uri: { uri: 'otel.observability.svc.cluster.local/v1/traces', cluster: 'outbound|4318||otel', timeout: { seconds: 2 } } } } });
  const grpcCfg = config({}, { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig', service_name: 's', grpc_service: { envoy_grpc: { cluster_name: 'outbound|4317||otel', authority: 'otel' }, timeout: { seconds: 1, nanos: 500_000_000 }, initial_metadata: [{ key: 'X-Tenant', value: 'a' }] } } });
  assert.deepEqual(grpcCfg.provider, { kind: 'otlp-grpc', cluster: 'outbound|4317||otel', authority: 'otel', serviceName: 's', timeoutMs: 1500, metadata: [['x-tenant', 'a']] });
  assert.deepEqual(http.provider, { kind: 'otlp-http', cluster: 'outbound|4318||otel', host: 'otel.observability.svc.cluster.local', path: '/v1/traces', timeoutMs: 2000, headers: [], serviceName: 'istio-proxy' });
});

test('a new trace: sampled by random_sampling, context written as traceparent, client span with Istio tags', () => {
  const { t, spans } = tracer(config());
  const span = t.start(['user-agent', 'curl/8', 'x-tenant', 'acme'], 'outbound');
  assert.equal(span.sampled, true);
  assert.equal(span.parentSpanId, undefined);
  const [name, value] = span.contextHeaders();
  assert.equal(name, 'traceparent');
  assert.match(value!, new RegExp(`^00-${span.ctx.traceId}-${span.ctx.spanId}-01$`));
  span.end(info());
  span.end(info()); // reported once
  assert.equal(spans.length, 1);
  const s = spans[0]!;
  assert.equal(s.kind, 'CLIENT');
  assert.equal(s.name, 'reviews.default.svc.cluster.local:9080/*');
  const tags = Object.fromEntries(spanTags(s));
  assert.deepEqual(
    { ...tags, node_id: undefined },
    {
      node_id: undefined, 'istio.canonical_service': 'reviews', 'istio.namespace': 'default', team: 'none', component: 'proxy', 'guid:x-request-id': 'req-1',
      'http.url': 'http://reviews:9080/reviews/0', 'http.method': 'GET', 'http.protocol': 'HTTP/1.1', downstream_cluster: '-', user_agent: 'curl/8',
      'peer.address': '127.0.0.1', request_size: '10', response_size: '300', upstream_cluster: 'outbound|9080||reviews.default.svc.cluster.local',
      'upstream_cluster.name': 'outbound|9080||reviews.default.svc.cluster.local', 'http.status_code': '200', response_flags: '-', tenant: 'acme',
    },
  );
  assert.equal(s.error, false);
});

test("the caller's context is continued and its sampling decision honoured, whatever random_sampling says", () => {
  const { t, spans } = tracer(config({ random_sampling: { value: 0 } }));
  const inbound = t.start(['traceparent', `00-${T}-${S}-01`], 'inbound');
  assert.equal(inbound.ctx.traceId, T);
  assert.equal(inbound.parentSpanId, S);
  assert.notEqual(inbound.ctx.spanId, S);
  assert.equal(inbound.kind, 'SERVER');
  inbound.end(info({ status: 503, flags: 'UF' }));
  assert.equal(spans[0]!.parentSpanId, S);
  assert.equal(spans[0]!.error, true);
  assert.equal(Object.fromEntries(spanTags(spans[0]!))['error'], 'true');
  const notSampled = t.start(['x-b3-traceid', T, 'x-b3-spanid', S, 'x-b3-sampled', '0'], 'inbound');
  assert.equal(notSampled.sampled, false);
  assert.match(notSampled.contextHeaders()[1]!, /-00$/, 'the decision travels on');
  notSampled.end(info());
  assert.equal(spans.length, 1, 'unsampled spans are not reported');
});

test('sampling: random_sampling percent against the random source; x-client-trace-id uses client_sampling; overall caps', () => {
  const at = (pct: number, r: number, headers: string[] = [], extra: Record<string, unknown> = {}): boolean => tracer(config({ random_sampling: { value: pct }, ...extra }), () => r).t.start(headers, 'outbound').sampled;
  assert.equal(at(10, 0.05), true);
  assert.equal(at(10, 0.15), false);
  assert.equal(at(0, 0), false);
  assert.equal(at(100, 0.999), true);
  assert.equal(at(0, 0.5, ['x-client-trace-id', 'abc']), true, 'client_sampling defaults to 100');
  assert.equal(at(100, 0.5, [], { overall_sampling: { value: 10 } }), false);
  // Over many requests with a real random source the rate is close to the setting.
  const { t } = tracer(config({ random_sampling: { value: 25 } }), Math.random);
  let n = 0;
  for (let i = 0; i < 4000; i++) if (t.start([], 'outbound').sampled) n++;
  assert.ok(n > 800 && n < 1200, `sampled ${n} of 4000 at 25%`);
});

test('gateways (spawn_upstream_span): a server span and a client child; the upstream sees the child as parent', () => {
  const { t, spans } = tracer(config({ spawn_upstream_span: { value: true } }));
  const span = t.start(['traceparent', `00-${T}-${S}-01`], 'outbound');
  assert.equal(span.kind, 'SERVER');
  const sent = span.contextHeaders()[1]!;
  assert.ok(sent.includes(span.upstreamSpanId!));
  span.end(info());
  assert.equal(spans.length, 2);
  const [server, client] = spans;
  assert.equal(server!.parentSpanId, S);
  assert.equal(client!.kind, 'CLIENT');
  assert.equal(client!.parentSpanId, server!.spanId);
});

test('zipkin tracers write B3 and use 64-bit trace ids unless trace_id_128bit', () => {
  const provider = { name: 'envoy.tracers.zipkin', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig', collector_cluster: 'c', collector_endpoint_version: 'HTTP_JSON' } };
  const { t } = tracer(config({}, provider));
  const h = t.start([], 'outbound').contextHeaders();
  assert.equal(h[0], 'x-b3-traceid');
  assert.match(h[1]!, /^[0-9a-f]{16}$/);
  assert.deepEqual(h.filter((_, i) => i % 2 === 0), ['x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled']);
});

test('an HTTP/2 header object gets the new context and loses the caller’s trace headers', () => {
  const { t } = tracer(config());
  const span = t.start(['traceparent', `00-${T}-${S}-01`, 'x-b3-traceid', T], 'outbound');
  const out: Record<string, unknown> = { ':path': '/', traceparent: `00-${T}-${S}-01`, 'x-b3-traceid': T, 'x-b3-spanid': S, accept: '*/*' };
  span.injectInto(out);
  assert.deepEqual(Object.keys(out).sort(), [':path', 'accept', 'traceparent']);
  assert.equal(out['traceparent'], `00-${T}-${span.ctx.spanId}-01`);
});

test('span names follow Istio’s decorators: outbound service host and port; inbound this workload’s service', () => {
  const { t, spans } = tracer(config());
  const name = (over: Partial<StreamInfo>): string => {
    t.start([], 'inbound').end(info(over));
    return spans.at(-1)!.name;
  };
  assert.equal(name({}), 'reviews.default.svc.cluster.local:9080/*');
  assert.equal(name({ upstreamCluster: 'inbound|9080||', authority: 'reviews:9080' }), 'reviews.default.svc.cluster.local:9080/*');
  assert.equal(name({ upstreamCluster: 'inbound|43085||', authority: 'reviews.default.svc.cluster.local:9080' }), 'reviews.default.svc.cluster.local:9080/*');
  assert.equal(name({ upstreamCluster: 'inbound|43085||', authority: '127.0.0.1:8080' }), 'reviews.default.svc.cluster.local:43085/*', 'a gateway’s host says nothing of the service port');
  assert.equal(name({ upstreamCluster: undefined, authority: 'example.com' }), 'example.com/*');
});

const UUID_EXT = (use?: boolean, pack?: boolean): Record<string, unknown> => ({
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig',
    ...(use === undefined ? {} : { use_request_id_for_trace_sampling: { value: use } }),
    ...(pack === undefined ? {} : { pack_trace_reason: { value: pack } }),
  },
});

function withRequestId(over: Record<string, unknown>, ext?: Record<string, unknown>): TracingConfig {
  const errors = new Errors();
  const ignored: string[] = [];
  const base = config(over);
  const c = compileTracing({ random_sampling: { value: base.randomSampling }, ...over, provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig', grpc_service: { envoy_grpc: { cluster_name: 'c' } } } } }, 'tracing', errors, ignored, ext);
  assert.deepEqual(errors.list, []);
  return c!;
}

/** A request id whose first 8 hex digits are `bucket` (so its hash bucket is bucket % 10,000). */
const rid = (bucket: number, version = '4'): string => `${bucket.toString(16).padStart(8, '0')}-1234-${version}abc-8def-0123456789ab`;

test('request-id sampling (Envoy default): the x-request-id’s first 8 hex digits mod 10,000 decide, not the random source', () => {
  const cfg = (pct: number, extra: Record<string, unknown> = {}): TracingConfig => withRequestId({ random_sampling: { value: pct }, ...extra });
  assert.equal(cfg(1).useRequestIdForTraceSampling, true, 'default without request_id_extension');
  assert.equal(cfg(1).packTraceReason, true);
  const decide = (pct: number, id: string, random = 0, extra: Record<string, unknown> = {}): boolean => tracer(cfg(pct, extra), () => random).t.start(['x-request-id', id], 'outbound').sampled;
  assert.equal(decide(25, rid(2500)), false, 'bucket 2500 is outside 25%');
  assert.equal(decide(25.01, rid(2500)), true);
  assert.equal(decide(25, rid(12_499)), true, '12,499 mod 10,000 = 2,499');
  assert.equal(decide(100, 'not-hex-request-id'), false, 'an id Envoy cannot read is never sampled');
  assert.equal(decide(50, rid(9000), 0), false, 'a random draw of 0 does not matter');
  assert.equal(decide(50, rid(100), 0.99), true);
  assert.equal(decide(100, rid(2500), 0, { overall_sampling: { value: 20 } }), false, 'overall_sampling uses the same bucket');
  assert.equal(decide(0, rid(9000, '9')), true, 'a reason packed by an earlier hop (9 = sampled) stands');
  assert.equal(decide(0, rid(9000, 'b')), true, 'b = client');
  assert.equal(decide(0, rid(9000, 'a')), true, 'a = forced');
  // Every hop that sees the same id makes the same decision: over many ids the rate is the setting.
  const t = tracer(cfg(10), () => 0).t;
  let n = 0;
  for (let i = 0; i < 5000; i++) if (t.start(['x-request-id', crypto.randomUUID()], 'outbound').sampled) n++;
  assert.ok(n > 380 && n < 620, `sampled ${n} of 5000 at 10%`);
});

test('the decision is packed into the forwarded x-request-id (…-9xxx-… sampled, 4 not, b client) unless pack_trace_reason is false', () => {
  const t = tracer(withRequestId({ random_sampling: { value: 30 }, overall_sampling: { value: 20 } })).t;
  const id = rid(1000);
  assert.equal(t.start(['x-request-id', id], 'outbound').requestId(id), rid(1000, '9'));
  assert.equal(t.start(['x-request-id', rid(2500)], 'outbound').requestId(rid(2500)), rid(2500, '4'), 'sampled, then cut by overall_sampling: 4');
  assert.equal(t.start(['x-request-id', rid(5000)], 'outbound').requestId(rid(5000)), rid(5000), 'not sampled: left as it is');
  assert.equal(t.start(['x-request-id', rid(1500), 'x-client-trace-id', 'x'], 'outbound').requestId(rid(1500)), rid(1500, 'b'), 'x-client-trace-id is checked first');
  assert.equal(t.start(['x-request-id', 'req-1'], 'outbound').requestId('req-1'), 'req-1', 'ids that are not UUID-shaped are never rewritten');
  // No x-request-id yet: a random draw, and the id the proxy then generates carries it.
  const fresh = tracer(withRequestId({ random_sampling: { value: 100 } })).t.start([], 'outbound');
  assert.equal(fresh.requestId(rid(7000))[14], '9');
  // The caller's context decides the span; the id still carries this hop's own decision, as Envoy's HCM packs it.
  const caller = t.start(['traceparent', `00-${T}-${S}-00`, 'x-request-id', rid(1000)], 'outbound');
  assert.equal(caller.sampled, false);
  assert.equal(caller.requestId(rid(1000))[14], '9');
  const noPack = tracer(withRequestId({ random_sampling: { value: 30 } }, UUID_EXT(true, false))).t;
  assert.equal(noPack.start(['x-request-id', id], 'outbound').sampled, true);
  assert.equal(noPack.start(['x-request-id', id], 'outbound').requestId(id), id);
});

test('use_request_id_for_trace_sampling false: the random source decides and the id is forwarded unchanged; another extension type is listed', () => {
  const cfg = withRequestId({ random_sampling: { value: 30 } }, UUID_EXT(false));
  assert.equal(cfg.useRequestIdForTraceSampling, false);
  const at = (r: number): ReturnType<Tracer['start']> => tracer(cfg, () => r).t.start(['x-request-id', rid(100)], 'outbound');
  assert.equal(at(0.5).sampled, false, 'bucket 100 would be sampled; the draw of 0.5 is not');
  assert.equal(at(0.1).sampled, true);
  assert.equal(at(0.1).requestId(rid(100)), rid(100));
  const ignored: string[] = [];
  const other = compileTracing({ provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig', grpc_service: { envoy_grpc: { cluster_name: 'c' } } } } }, 't', new Errors(), ignored, { typed_config: { '@type': 'type.googleapis.com/example.OtherRequestId' } }, 'request_id_extension');
  assert.equal(other!.useRequestIdForTraceSampling, false);
  assert.match(ignored[0]!, /^request_id_extension: type\.googleapis\.com\/example\.OtherRequestId/);
});
