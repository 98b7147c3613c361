// HCM tracing translation: Telemetry tracing (mesh, namespace, workload; client/server modes) and MeshConfig
// extension providers (OpenTelemetry over gRPC or HTTP, Zipkin) become Envoy tracers on the outbound, inbound and
// gateway connection managers, with Istio's sampling and tags. Golden file: testdata/tracing.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TypeUrl } from '../../xds/protos.ts';
import type { MeshSettings } from '../snapshot/mesh.ts';
import { generateResources } from './index.ts';
import { newTracingFindings, tracingFindings } from './tracing.ts';
import { assertEncodes, assertGolden, parseYaml, samples, sidecarProxy, snapshotOf } from './fixtures.test.ts';

type J = Record<string, unknown>;

const workloads = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: web-1, namespace: shop, labels: { app: web, version: v1, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: web, containers: [{ name: web }] }
status: { podIP: 10.2.0.1, phase: Running }
---
apiVersion: v1
kind: Service
metadata: { name: otel-collector, namespace: observability }
spec: { clusterIP: 10.96.0.50, ports: [{ name: grpc-otlp, port: 4317 }, { name: http-otlp, port: 4318 }] }
---
apiVersion: v1
kind: Service
metadata: { name: zipkin, namespace: istio-system }
spec: { clusterIP: 10.96.0.51, ports: [{ name: http-query, port: 9411 }] }
`;

const mesh: MeshSettings = {
  defaultConfig: { meshId: 'mesh1' },
  extensionProviders: [
    { name: 'otel-tracing', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4317 } },
    { name: 'otel-http', opentelemetry: { service: 'observability/otel-collector.observability.svc.cluster.local', port: 4318, http: { path: '/v1/traces', timeout: '2s', headers: [{ name: 'x-tenant', value: 'a' }] } } },
    { name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411 } },
    { name: 'nowhere', zipkin: { service: 'missing.example.com', port: 9411 } },
  ],
};

const web = sidecarProxy({ ip: '10.2.0.1', name: 'web-1', namespace: 'shop', labels: { app: 'web', version: 'v1' } });

function hcms(listeners: J[]): Array<{ listener: string; statPrefix: string; tracing: unknown }> {
  const out: Array<{ listener: string; statPrefix: string; tracing: unknown }> = [];
  for (const l of listeners) {
    for (const c of (l['filter_chains'] as J[] | undefined) ?? []) {
      for (const f of (c['filters'] as J[] | undefined) ?? []) {
        const tc = f['typed_config'] as J;
        if (f['name'] === 'envoy.filters.network.http_connection_manager') out.push({ listener: l['name'] as string, statPrefix: tc['stat_prefix'] as string, tracing: tc['tracing'] });
      }
    }
  }
  return out;
}

function listenersFor(yaml: string, settings: MeshSettings = mesh, proxy = web): J[] {
  const snap = snapshotOf(parseYaml(workloads + yaml), settings);
  const res = generateResources(proxy, snap, TypeUrl.listener);
  for (const r of res) assertEncodes(TypeUrl.listener, r.resource);
  return res.map((r) => r.resource);
}

const meshWide = (body: string): string => `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
${body}`;

test('tracing golden: mesh-wide OTel (gRPC), namespace override to Zipkin for the server side, workload custom tags', () => {
  const yaml = meshWide(`  tracing: [{ providers: [{ name: otel-tracing }], randomSamplingPercentage: 10 }]`) + `
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ns, namespace: shop }
spec:
  tracing: [{ match: { mode: SERVER }, providers: [{ name: zipkin }], randomSamplingPercentage: 100 }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: web-tags, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  tracing:
  - customTags:
      team: { literal: { value: payments } }
      pod: { environment: { name: POD_NAME, defaultValue: unknown } }
      tenant: { header: { name: x-tenant } }
`;
  const out = hcms(listenersFor(yaml));
  assertGolden('tracing.json', out);
  const outbound = out.find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing as J;
  const inbound = out.find((h) => h.statPrefix === 'inbound_0.0.0.0_8080')!.tracing as J;
  assert.equal((outbound['provider'] as J)['name'], 'envoy.tracers.opentelemetry');
  assert.deepEqual(outbound['random_sampling'], { value: 10 });
  assert.equal((inbound['provider'] as J)['name'], 'envoy.tracers.zipkin');
  assert.deepEqual(inbound['random_sampling'], { value: 100 });
  const tags = (outbound['custom_tags'] as J[]).map((t) => t['tag']);
  assert.deepEqual(tags, ['istio.canonical_revision', 'istio.canonical_service', 'istio.cluster_id', 'istio.mesh_id', 'istio.namespace', 'pod', 'team', 'tenant']);
  assert.deepEqual((outbound['custom_tags'] as J[]).find((t) => t['tag'] === 'istio.mesh_id'), { tag: 'istio.mesh_id', literal: { value: 'mesh1' } });
});

test('OTel over HTTP: http_service to the provider cluster with the path, timeout and headers', () => {
  const out = hcms(listenersFor(meshWide(`  tracing: [{ providers: [{ name: otel-http }] }]`)));
  const t = out.find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing as J;
  const cfg = (t['provider'] as J)['typed_config'] as J;
  assert.deepEqual(cfg['http_service'], {
    http_uri: { uri: 'otel-collector.observability.svc.cluster.local/v1/traces', cluster: 'outbound|4318||otel-collector.observability.svc.cluster.local', timeout: { seconds: 2 } },
    request_headers_to_add: [{ header: { key: 'x-tenant', value: 'a' } }],
  });
  assert.equal(cfg['service_name'], 'web.shop');
  // No randomSamplingPercentage: the mesh default (1%), or defaultConfig.tracing.sampling.
  assert.deepEqual(t['random_sampling'], { value: 1 });
  const sampled = hcms(listenersFor(meshWide(`  tracing: [{ providers: [{ name: otel-http }] }]`), { ...mesh, defaultConfig: { tracing: { sampling: 25 } } }));
  assert.deepEqual((sampled[0]!.tracing as J)['random_sampling'], { value: 25 });
});

test('no tracing without a provider; defaultProviders.tracing alone enables it; disableSpanReporting and unknown services turn it off', () => {
  assert.ok(hcms(listenersFor('')).every((h) => h.tracing === undefined));
  const byDefault = hcms(listenersFor('', { ...mesh, defaultProviders: { tracing: ['zipkin'] } }));
  assert.ok(byDefault.length > 0 && byDefault.every((h) => ((h.tracing as J)['provider'] as J)['name'] === 'envoy.tracers.zipkin'));
  const zipkin = (byDefault[0]!.tracing as J)['provider'] as J;
  assert.deepEqual(zipkin['typed_config'], {
    '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
    collector_cluster: 'outbound|9411||zipkin.istio-system.svc.cluster.local',
    collector_endpoint: '/api/v2/spans',
    collector_endpoint_version: 'HTTP_JSON',
    collector_hostname: 'zipkin.istio-system.svc.cluster.local',
    trace_id_128bit: true,
    shared_span_context: { value: false },
  });
  const clientOff = hcms(listenersFor(meshWide(`  tracing: [{ providers: [{ name: zipkin }] }, ]`) + `
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: quiet, namespace: shop }
spec:
  tracing: [{ match: { mode: CLIENT }, disableSpanReporting: true }]
`));
  assert.equal(clientOff.find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing, undefined);
  assert.ok(clientOff.find((h) => h.statPrefix === 'inbound_0.0.0.0_8080')!.tracing);
  assert.ok(hcms(listenersFor(meshWide(`  tracing: [{ providers: [{ name: nowhere }] }]`))).every((h) => h.tracing === undefined));
});

test("Istio's sample Telemetry (open-telemetry/tracing) with its provider: 0% sampling, still a tracer (context propagates)", () => {
  const sample = readFileSync(`${samples}/open-telemetry/tracing/telemetry.yaml`, 'utf8').replace('name: otel-demo', 'name: otel-demo\n  namespace: istio-system');
  const out = hcms(listenersFor(`---\n${sample}`));
  const t = out.find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing as J;
  assert.deepEqual(t['random_sampling'], { value: 0 });
  assert.equal((t['provider'] as J)['name'], 'envoy.tracers.opentelemetry');
});

test('gateways spawn an upstream span', () => {
  const gw = sidecarProxy({ ip: '10.9.0.1', name: 'ingress-1', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, type: 'router' });
  const yaml = meshWide(`  tracing: [{ providers: [{ name: otel-tracing }] }]`) + `
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
`;
  const out = hcms(listenersFor(yaml, mesh, gw));
  assert.equal(out.length, 1);
  assert.deepEqual((out[0]!.tracing as J)['spawn_upstream_span'], { value: true });
});

test('customTags of a more specific Telemetry replace the parent’s as a whole (Istio’s shallow merge); other fields inherit', () => {
  const yaml = meshWide(`  tracing: [{ providers: [{ name: zipkin }], randomSamplingPercentage: 5, customTags: { team: { literal: { value: core } }, region: { literal: { value: eu } } } }]`) + `
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ns, namespace: shop }
spec:
  tracing: [{ customTags: { tenant: { header: { name: x-tenant, defaultValue: none } } } }]
`;
  const t = hcms(listenersFor(yaml)).find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing as J;
  const own = (t['custom_tags'] as J[]).filter((x) => !String(x['tag']).startsWith('istio.'));
  assert.deepEqual(own, [{ tag: 'tenant', request_header: { name: 'x-tenant', default_value: 'none' } }]);
  assert.deepEqual(t['random_sampling'], { value: 5 }, 'inherited from the mesh level');
});

test('tracing findings: a Telemetry selecting a provider Weft does not export to, an undefined one, a non-tracer, a collector outside the registry', () => {
  const settings: MeshSettings = {
    ...mesh,
    defaultProviders: { tracing: ['sky'] },
    extensionProviders: [
      ...(mesh.extensionProviders ?? []),
      { name: 'dd', datadog: { service: 'datadog-agent.monitoring.svc.cluster.local', port: 8126 } },
      { name: 'sky', skywalking: { service: 'oap.skywalking.svc.cluster.local', port: 11800 } },
      { name: 'authz', envoyExtAuthzHttp: { service: 'authz.shop.svc.cluster.local', port: 8000 } },
      { name: 'otel-detect', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4317, resourceDetectors: { environment: {} } } },
    ],
  };
  const telemetry = (ns: string, name: string, provider: string): string => `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  tracing: [{ providers: [{ name: ${provider} }] }]
`;
  const yaml = telemetry('istio-system', 'mesh-default', 'dd') + telemetry('shop', 'typo', 'otel-tracin') + telemetry('shop', 'wrong-kind', 'authz')
    + telemetry('shop', 'nowhere', 'nowhere') + telemetry('shop', 'fine', 'otel-tracing') + telemetry('shop', 'detect', 'otel-detect');
  const found = tracingFindings(snapshotOf(parseYaml(workloads + yaml), settings)).map((f) => `${f.resource} ${f.path}: ${f.message}`);
  const has = (re: RegExp): void => assert.ok(found.some((l) => re.test(l)), `${re} in\n${found.join('\n')}`);
  has(/^MeshConfig defaultProviders\.tracing\[0\]: selects extension provider "sky" \(skywalking\): Weft's proxies export spans only to opentelemetry and zipkin providers/);
  has(/^Telemetry istio-system\/mesh-default spec\.tracing\[0\]\.providers\[0\]\.name: selects extension provider "dd" \(datadog\): .*no spans are reported; the Datadog Agent also accepts OTLP/);
  has(/^Telemetry shop\/typo spec\.tracing\[0\]\.providers\[0\]\.name: names extension provider "otel-tracin", which MeshConfig extensionProviders does not define/);
  has(/^Telemetry shop\/wrong-kind .*"authz" \(envoyExtAuthzHttp\), which is not a tracing provider/);
  has(/^MeshConfig extensionProviders\[nowhere\]\.zipkin\.service: tracing provider "nowhere": service "missing\.example\.com" port 9411 is not in the service registry/);
  has(/^MeshConfig extensionProviders\[otel-detect\]\.opentelemetry\.resourceDetectors: tracing provider "otel-detect": resourceDetectors is not supported/);
  assert.ok(!found.some((l) => l.includes('shop/fine')), 'a working provider is not reported');
  assert.equal(found.length, 6);
  // Logged once: the same findings in the next snapshot produce no new lines; a new one does.
  const snap = snapshotOf(parseYaml(workloads + yaml), settings);
  const first = newTracingFindings(new Set(), snap);
  assert.equal(first.lines.length, 6);
  assert.match(first.lines[0]!, /^tracing: MeshConfig defaultProviders\.tracing\[0\]: selects/);
  assert.deepEqual(newTracingFindings(first.seen, snap).lines, []);
  assert.deepEqual(tracingFindings(snapshotOf(parseYaml(workloads + telemetry('shop', 'fine', 'otel-tracing')), mesh)), []);
});

test('OTel over gRPC: the provider’s grpc timeout and initialMetadata reach grpc_service', () => {
  const settings: MeshSettings = { ...mesh, extensionProviders: [{ name: 'otel-md', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4317, grpc: { timeout: '2.5s', initialMetadata: [{ name: 'x-tenant', value: 'team-a' }] } } }] };
  const t = hcms(listenersFor(meshWide(`  tracing: [{ providers: [{ name: otel-md }] }]`), settings)).find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing as J;
  assert.deepEqual(((t['provider'] as J)['typed_config'] as J)['grpc_service'], {
    envoy_grpc: { cluster_name: 'outbound|4317||otel-collector.observability.svc.cluster.local', authority: 'otel-collector.observability.svc.cluster.local' },
    timeout: { seconds: 2, nanos: 500_000_000 },
    initial_metadata: [{ key: 'x-tenant', value: 'team-a' }],
  });
});

test('useRequestIdForTraceSampling → the HCM’s UUID request_id_extension (default true; a more specific level overrides); the proxy compiles it', async () => {
  const { compileTracing } = await import('../../proxy/tracing/config.ts');
  const { Errors } = await import('../../proxy/config/raw.ts');
  const { decodeAny, encodeAny } = await import('../../xds/protos.ts');
  const hcmOf = (yaml: string): J => {
    for (const l of listenersFor(yaml)) {
      // Through the wire encoding, as a proxy receives it.
      const wire = decodeAny(encodeAny(TypeUrl.listener, l));
      for (const c of (wire['filter_chains'] as J[] | undefined) ?? []) {
        for (const f of (c['filters'] as J[] | undefined) ?? []) {
          const tc = f['typed_config'] as J;
          if (tc['stat_prefix'] === 'outbound_0.0.0.0_80') return tc;
        }
      }
    }
    throw new Error('no outbound HCM');
  };
  const on = hcmOf(meshWide(`  tracing: [{ providers: [{ name: zipkin }] }]`));
  assert.deepEqual(on['request_id_extension'], { typed_config: { '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig', use_request_id_for_trace_sampling: { value: true } } });
  const off = hcmOf(meshWide(`  tracing: [{ providers: [{ name: zipkin }] }]`) + `
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ns, namespace: shop }
spec:
  tracing: [{ useRequestIdForTraceSampling: false }]
`);
  assert.deepEqual((off['request_id_extension'] as J)['typed_config'], { '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig', use_request_id_for_trace_sampling: { value: false } });
  const compiled = (h: J): boolean | undefined => compileTracing(h['tracing'], 'tracing', new Errors(), [], h['request_id_extension'])?.useRequestIdForTraceSampling;
  assert.equal(compiled(on), true);
  assert.equal(compiled(off), false);
  assert.equal(hcmOf(meshWide(`  tracing: [{ providers: [{ name: zipkin }], disableSpanReporting: true }]`))['request_id_extension'], undefined, 'no tracing, no extension');
});

test('MeshConfig defaultConfig.tracing.customTags are the span tags when no Telemetry sets customTags (Istio’s ProxyConfig fallback)', async () => {
  const { loadMeshConfigText } = await import('../../controlplane/mesh-config.ts');
  const loaded = loadMeshConfigText(`
defaultConfig:
  tracing:
    customTags:
      cluster: { literal: { value: eu-1 } }
      pod: { environment: { name: POD_NAME } }
`, 'mesh.yaml');
  assert.deepEqual(loaded.warnings, []);
  const settings: MeshSettings = { ...mesh, defaultConfig: { ...loaded.mesh.defaultConfig, meshId: 'mesh1' } };
  const own = (yaml: string): J[] => ((hcms(listenersFor(yaml, settings)).find((h) => h.statPrefix === 'outbound_0.0.0.0_80')!.tracing as J)['custom_tags'] as J[]).filter((x) => !String(x['tag']).startsWith('istio.'));
  assert.deepEqual(own(meshWide(`  tracing: [{ providers: [{ name: zipkin }] }]`)), [{ tag: 'cluster', literal: { value: 'eu-1' } }, { tag: 'pod', environment: { name: 'POD_NAME' } }]);
  assert.deepEqual(own(meshWide(`  tracing: [{ providers: [{ name: zipkin }], customTags: { team: { literal: { value: a } } } }]`)), [{ tag: 'team', literal: { value: 'a' } }], 'a Telemetry’s customTags replace them');
});

test('tracing findings: formatter custom tags are reported with their path', () => {
  const found = tracingFindings(snapshotOf(parseYaml(workloads + meshWide(`  tracing: [{ providers: [{ name: zipkin }], customTags: { path: { formatter: { value: '%REQ(:PATH)%' } } } }]`)), mesh));
  assert.deepEqual(found.map((f) => `${f.resource} ${f.path}`), ['Telemetry istio-system/mesh-default spec.tracing[0].customTags[path].formatter']);
});
