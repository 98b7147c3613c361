// The on-demand xDS root against the full .proto root: every resource the discovery server generates for Bookinfo and
// for all of istio-samples at once (sidecars, gateways, a proxyless gRPC client; ext_authz providers and tracers in the
// MeshConfig) encodes to the same bytes, and a fresh on-demand root (a sidecar that has seen nothing yet) decodes it,
// nested Anys and all, to the same object as the full root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { Resource } from '../config/api/resource.ts';
import { loadText } from '../config/api/load.ts';
import { parseProxy, type Proxy } from '../discovery/proxy.ts';
import type { MeshSettings } from '../discovery/snapshot/mesh.ts';
import { generateResources } from '../discovery/translate/index.ts';
import { parseYaml, samples, sidecarProxy, snapshotOf } from '../discovery/translate/fixtures.test.ts';
import { loadFullXdsRoot } from './descriptor-build.ts';
import { DescriptorIndex } from './descriptor-index.ts';
import { LazyXdsRoot } from './lazy-root.ts';
import { WireCodec } from './wire-codec.ts';
import { TypeUrl, decodeAny, encodeAny, xdsTypeCounts, type XdsTypeUrl } from './protos.ts';

type J = Record<string, unknown>;

const descriptor = new DescriptorIndex(readFileSync(new URL('./xds-descriptor.gen.json', import.meta.url), 'utf8'));
const full = loadFullXdsRoot();
const decodeOptions: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: false, json: true };
const resourceTypes: XdsTypeUrl[] = [TypeUrl.listener, TypeUrl.route, TypeUrl.cluster, TypeUrl.endpoint];

const mesh: MeshSettings = {
  extensionProviders: [
    { name: 'default', envoyExtAuthzHttp: { service: 'ext-authz.foo.svc.cluster.local', port: 8000, includeRequestHeadersInCheck: ['x-ext-authz'], headersToUpstreamOnAllow: ['x-ext-authz-check-result'] } },
    { name: 'another', envoyExtAuthzGrpc: { service: 'ext-authz.foo.svc.cluster.local', port: 9000 } },
    { name: 'otel-tracing', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4317 } },
    { name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411 } },
  ],
  defaultProviders: { tracing: ['zipkin'] },
};

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'crds' ? [] : yamlFiles(p);
    return f.endsWith('.yaml') || f.endsWith('.yml') ? [p] : [];
  });
}

function load(dir: string): Resource[] {
  const byKey = new Map<string, Resource>();
  for (const f of yamlFiles(dir)) {
    if (f.endsWith('analyzer-messages.yaml')) continue;
    for (const l of loadText(readFileSync(f, 'utf8'), f)) {
      if (l.valid && l.support === 'mesh') byKey.set(`${l.key.kind}/${l.key.namespace}/${l.key.name}`, l.resource);
    }
  }
  return [...byKey.values()];
}

function proxies(): Proxy[] {
  const grpc = parseProxy({ id: 'lazy-root', metadata: { GENERATOR: 'grpc' } });
  assert.ok(grpc.ok);
  return [
    sidecarProxy({ ip: '10.1.0.1', name: 'productpage-v1-0', labels: { app: 'productpage', version: 'v1' } }),
    sidecarProxy({ ip: '10.1.0.2', name: 'reviews-v2-0', labels: { app: 'reviews', version: 'v2' } }),
    sidecarProxy({ ip: '10.1.0.5', name: 'httpbin-0', namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } }),
    sidecarProxy({ ip: '10.1.0.3', name: 'ingress-0', namespace: 'istio-system', labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' }, type: 'router' }),
    sidecarProxy({ ip: '10.1.0.4', name: 'egress-0', namespace: 'istio-system', labels: { istio: 'egressgateway', app: 'istio-egressgateway' }, type: 'router' }),
    grpc.value,
  ];
}

/** Every `@type` in a decoded object. */
function anyTypes(v: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(v)) for (const x of v) anyTypes(x, out);
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === '@type' && typeof x === 'string') out.add(x);
      else anyTypes(x, out);
    }
  }
  return out;
}

/** What a process that has seen nothing yet decodes with: an on-demand protobufjs root and a wire codec. */
interface Fresh {
  root: LazyXdsRoot;
  codec: WireCodec;
}
const fresh = (): Fresh => ({ root: new LazyXdsRoot(descriptor, protobuf), codec: new WireCodec(descriptor) });

/**
 * Encode with this process's encodeAny (on-demand protobufjs root), a fresh wire codec and the full root: the same
 * bytes; decode with a fresh on-demand root, a fresh wire codec, decodeAny and the full root: the same object.
 */
function compare(sidecar: Fresh, typeUrl: string, resource: J, seen: Set<string>): void {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const any = encodeAny(typeUrl, resource);
  const ref = full.lookupType(name);
  const refBytes = ref.encode(ref.fromObject(resource)).finish();
  const label = String(resource['name'] ?? name);
  assert.deepEqual(Buffer.from(any.value), Buffer.from(refBytes), `${label}: encoded bytes`);
  assert.deepEqual(Buffer.from(sidecar.codec.encode(typeUrl, resource)), Buffer.from(refBytes), `${label}: wire codec bytes`);
  assert.ok(sidecar.root.ensure(name));
  const t = sidecar.root.root.lookupType(name);
  const expected = ref.toObject(ref.decode(refBytes), decodeOptions);
  assert.deepEqual(t.toObject(t.decode(any.value), decodeOptions), expected, `${label}: decoded by an on-demand root`);
  const decoded = sidecar.codec.decode(typeUrl, Buffer.from(any.value));
  assert.deepEqual(decoded, expected, `${label}: decoded by the wire codec`);
  assert.deepEqual(JSON.stringify(decoded), JSON.stringify(expected), `${label}: same key order`);
  assert.deepEqual(decodeAny(any), ref.toObject(ref.decode(any.value), decodeOptions), `${label}: decodeAny`);
  anyTypes(decoded, seen);
}

function checkAll(configs: Resource[], label: string): { resources: number; seen: Set<string> } {
  const snap = snapshotOf(configs, mesh);
  const sidecar = fresh();
  const seen = new Set<string>();
  let resources = 0;
  for (const p of proxies()) {
    for (const t of resourceTypes) {
      for (const r of generateResources(p, snap, t)) {
        compare(sidecar, t, r.resource, seen);
        resources++;
      }
    }
  }
  assert.ok(sidecar.root.loaded < sidecar.root.size, `${label}: an on-demand root builds ${sidecar.root.loaded} of ${sidecar.root.size} types`);
  return { resources, seen };
}

test('Bookinfo: every generated resource encodes and decodes on demand exactly as with the full root', () => {
  const { resources, seen } = checkAll(load(join(samples, 'bookinfo')), 'bookinfo');
  assert.ok(resources > 50, `${resources} resources`);
  assert.ok(seen.has('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'));
});

test('all istio-samples at once (authz CUSTOM/RBAC, JWT, tracing, TCP, gateways, proxyless gRPC): same bytes, same objects', () => {
  const { resources, seen } = checkAll(load(samples), 'istio-samples');
  assert.ok(resources > 100, `${resources} resources`);
  for (const t of [
    'envoy.extensions.filters.http.router.v3.Router',
    'envoy.extensions.filters.http.rbac.v3.RBAC',
    'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
    'envoy.extensions.filters.http.fault.v3.HTTPFault',
    'envoy.extensions.filters.http.cors.v3.Cors',
    'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  ]) assert.ok(seen.has(`type.googleapis.com/${t}`), `${t} appears in the generated config (seen: ${[...seen].sort().join(', ')})`);
});

const customAndTracing = `
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: foo }
spec: { clusterIP: 10.96.0.10, selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 80 }, { name: tcp, port: 9000, targetPort: 9000 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: httpbin-0, namespace: foo, labels: { app: httpbin, version: v1, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: httpbin, containers: [{ name: httpbin }] }
status: { podIP: 10.1.0.5, phase: Running }
---
apiVersion: v1
kind: Service
metadata: { name: ext-authz, namespace: foo }
spec: { clusterIP: 10.96.0.11, ports: [{ name: http, port: 8000 }, { name: grpc, port: 9000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: zipkin, namespace: istio-system }
spec: { clusterIP: 10.96.0.51, ports: [{ name: http-query, port: 9411 }] }
---
apiVersion: v1
kind: Service
metadata: { name: otel-collector, namespace: observability }
spec: { clusterIP: 10.96.0.50, ports: [{ name: grpc-otlp, port: 4317 }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: http-custom, namespace: foo }
spec:
  action: CUSTOM
  provider: { name: default }
  selector: { matchLabels: { app: httpbin } }
  rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: tcp-deny, namespace: foo }
spec:
  action: DENY
  selector: { matchLabels: { app: httpbin } }
  rules: [{ to: [{ operation: { ports: ["9000"] } }], from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ providers: [{ name: zipkin }], randomSamplingPercentage: 10 }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: foo-otel, namespace: foo }
spec:
  tracing: [{ providers: [{ name: otel-tracing }] }]
`;

test('CUSTOM ext_authz, network RBAC and tracers (Zipkin, OpenTelemetry): same bytes, same objects', () => {
  const { seen } = checkAll([...parseYaml(customAndTracing), ...load(join(samples, 'bookinfo'))], 'custom+tracing');
  for (const t of [
    'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    'envoy.extensions.filters.network.rbac.v3.RBAC',
    'envoy.config.trace.v3.ZipkinConfig',
    'envoy.config.trace.v3.OpenTelemetryConfig',
  ]) assert.ok(seen.has(`type.googleapis.com/${t}`), `${t} appears in the generated config (seen: ${[...seen].sort().join(', ')})`);
});

test('SDS secrets and the DiscoveryRequest (node metadata as Struct) round-trip the same way', () => {
  const sidecar = fresh();
  const seen = new Set<string>();
  compare(sidecar, TypeUrl.secret, { name: 'default', tls_certificate: { certificate_chain: { inline_bytes: Buffer.from('chain').toString('base64') }, private_key: { inline_bytes: Buffer.from('key').toString('base64') } } }, seen);
  compare(sidecar, TypeUrl.secret, { name: 'ROOTCA', validation_context: { trusted_ca: { inline_bytes: Buffer.from('roots').toString('base64') } } }, seen);
  compare(sidecar, 'envoy.service.discovery.v3.DiscoveryRequest', {
    version_info: '1', type_url: TypeUrl.cluster, response_nonce: 'n', resource_names: ['a', 'b'],
    node: { id: 'sidecar~10.1.0.1~p.default~default.svc.cluster.local', metadata: { fields: { NAMESPACE: { string_value: 'default' }, LABELS: { struct_value: { fields: { app: { string_value: 'p' } } } } } } },
  }, seen);
});

test('a name the descriptor does not hold leaves an Any undecoded, as the full root does, and builds nothing', () => {
  const sidecar = fresh();
  assert.equal(sidecar.root.ensure('type.googleapis.com/istio.no.such.Config'), false);
  assert.equal(sidecar.root.loaded, 0);
  assert.equal(sidecar.codec.hasMessage('type.googleapis.com/istio.no.such.Config'), false);
  const cluster = { name: 'c', typed_extension_protocol_options: { x: { type_url: 'type.googleapis.com/istio.no.such.Config', value: Buffer.from([8, 1]).toString('base64') } } };
  compare(sidecar, TypeUrl.cluster, cluster, new Set());
  assert.ok(xdsTypeCounts().loaded > 0);
});
