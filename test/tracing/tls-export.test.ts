// Span export over TLS, configured as an Istio user does it: the collector's cluster takes its TLS from a
// DestinationRule (SIMPLE with caCertificates, for a collector outside the mesh), or from Istio mutual TLS when the
// collector runs in the mesh (auto-mTLS to its sidecar; STRICT PeerAuthentication in its namespace refuses anything
// else). A real `weft up`, `weft run` workloads, a real TLS collector with a test CA on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Mesh, curl, freePort, service, startWorkload, stopAll, until, weft, type Proc, type Workload } from '../e2e/harness.ts';
import { makeCa, makeLeaf } from '../gateway-tls/certs.ts';
import { TestCollector } from './collector.ts';

const traceApp = fileURLToPath(new URL('./apps/trace-app.ts', import.meta.url));
const collectorApp = fileURLToPath(new URL('./apps/collector-app.ts', import.meta.url));
const TLS_HOST = 'tls-collector.observability.svc.cluster.local';

class TracingMesh extends Mesh {
  async startWith(meshConfig: string): Promise<void> {
    const file = join(this.root, 'mesh.yaml');
    writeFileSync(file, meshConfig);
    this.up = weft(['up', '--config-dir', this.configDir, '--state-dir', this.stateDir, '--mesh-config', file, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
    await this.up.waitFor(/weft control plane ready/, 20_000);
    this.xds = /xDS \(plaintext\) listening on (\S+)/.exec(this.up.out())![1]!;
    this.ca = /xDS \+ CA \(TLS\) listening on (\S+)/.exec(this.up.out())![1]!;
    this.monitoring = /monitoring listening on http:\/\/(\S+)/.exec(this.up.out())![1]!;
  }
}

const mesh = new TracingMesh();
const tlsCollector = new TestCollector();
let backend: Workload;
let meshCollector: Proc;

const telemetry = (provider: string): string => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: ${provider} }]
    randomSamplingPercentage: 100
`;

before(async () => {
  const pki = join(mesh.root, 'pki');
  mkdirSync(pki);
  makeCa(pki);
  makeLeaf(pki, 'collector', TLS_HOST);
  await tlsCollector.start({ key: readFileSync(join(pki, 'collector.key'), 'utf8'), cert: readFileSync(join(pki, 'collector.crt'), 'utf8') });
  await mesh.startWith(`extensionProviders:
- name: otel-tls
  opentelemetry: { service: ${TLS_HOST}, port: 4318, http: { path: /v1/traces } }
- name: zipkin-tls
  zipkin: { service: ${TLS_HOST}, port: 9411 }
- name: otel-tls-grpc
  opentelemetry: { service: ${TLS_HOST}, port: 4317 }
- name: otel-mesh
  opentelemetry: { service: otel.observability.svc.cluster.local, port: 4318, http: { path: /v1/traces } }
`);
  // Outside the mesh: a ServiceEntry names the collector, a DestinationRule originates TLS to it with the test CA.
  mesh.write('tls-collector.yaml', `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: tls-collector, namespace: observability }
spec:
  hosts: [${TLS_HOST}]
  location: MESH_EXTERNAL
  ports: [{ number: 4318, name: http-otlp, protocol: HTTP }, { number: 9411, name: http-zipkin, protocol: HTTP }, { number: 4317, name: grpc-otlp, protocol: GRPC }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http-otlp: ${tlsCollector.httpPort}, http-zipkin: ${tlsCollector.httpPort}, grpc-otlp: ${tlsCollector.grpcPort} } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tls-collector, namespace: observability }
spec:
  host: ${TLS_HOST}
  trafficPolicy:
    tls: { mode: SIMPLE, caCertificates: ${join(pki, 'ca.crt')} }
`);
  // In the mesh: the collector is a workload with a sidecar; STRICT mTLS in its namespace, and its own sidecar
  // reports no spans (it would otherwise trace every export it receives).
  mesh.write('mesh-collector.yaml', `apiVersion: v1
kind: Service
metadata: { name: otel, namespace: observability }
spec:
  ports: [{ port: 4318, name: http-otlp }]
  selector: { app: otel }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: strict, namespace: observability }
spec:
  mtls: { mode: STRICT }
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: no-spans, namespace: observability }
spec:
  tracing:
  - disableSpanReporting: true
`);
  mesh.write('services.yaml', service('backend', 9080, 'http'));
  mesh.write('telemetry.yaml', telemetry('otel-tls'));
  const [bp, cp] = [await freePort(), await freePort()];
  meshCollector = weft(['run', '--name', 'otel-1', '--namespace', 'observability', '--labels', 'app=otel', '--service-account', 'otel', '--port', `http-otlp=${cp}`,
    '--config-dir', mesh.configDir, '--discovery-address', mesh.xds, '--ca-address', mesh.ca, '--control-plane-state-dir', mesh.stateDir, '--drain', '1s', '--',
    process.execPath, collectorApp, String(cp)]);
  [backend] = await Promise.all([
    startWorkload(mesh, 'backend-v1', 'app=backend,version=v1', 'http', bp, [process.execPath, traceApp, String(bp), 'backend']),
    meshCollector.waitFor(/otel-1 is serving on 127\.0\.0\.1:/, 30_000),
  ]);
});

after(async () => {
  await stopAll();
  await mesh.close();
  await tlsCollector.stop();
});

async function call(traceId: string): Promise<void> {
  const r = await curl(['-H', `traceparent: 00-${traceId}-b7ad6b7169203331-01`, `http://${backend.address}:${backend.port}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'backend');
}

test('DestinationRule SIMPLE: the sidecar exports OTLP/HTTP over TLS to a collector outside the mesh, verified with the rule’s CA', async () => {
  let n = 0;
  const s = await until('a span over TLS', async () => {
    const id = (++n).toString(16).padStart(32, 'a');
    await call(id);
    return tlsCollector.spans.find((x) => x.via === 'otlp-http' && x.tags['istio.canonical_service'] === 'backend');
  }, 40_000);
  assert.equal(s.kind, 'SERVER');
  assert.equal(s.parentSpanId, 'b7ad6b7169203331');
  const r = tlsCollector.requests.at(-1)!;
  assert.ok(r.tls, 'received over TLS');
  assert.equal(r.tls.servername, TLS_HOST, 'SNI: the DestinationRule sni, else the host');
});

test('Zipkin to the same collector over TLS after a Telemetry switch', async () => {
  mesh.write('telemetry.yaml', telemetry('zipkin-tls'));
  let n = 0;
  const s = await until('a Zipkin span over TLS', async () => {
    await call((++n).toString(16).padStart(32, 'b'));
    return tlsCollector.spans.find((x) => x.via === 'zipkin' && x.tags['istio.canonical_service'] === 'backend');
  }, 40_000);
  assert.equal(s.kind, 'SERVER');
  assert.ok(tlsCollector.requests.filter((r) => r.path === '/api/v2/spans').every((r) => r.tls?.servername === TLS_HOST));
});

test('OTLP/gRPC to the same collector over TLS (the DestinationRule applies to every port of the host)', async () => {
  mesh.write('telemetry.yaml', telemetry('otel-tls-grpc'));
  let n = 0;
  const s = await until('an OTLP/gRPC span over TLS', async () => {
    await call((++n).toString(16).padStart(32, 'd'));
    return tlsCollector.spans.find((x) => x.via === 'otlp-grpc' && x.tags['istio.canonical_service'] === 'backend');
  }, 40_000);
  assert.equal(s.kind, 'SERVER');
  assert.equal(s.service, 'backend.default');
});

test('collector in the mesh: spans travel over Istio mutual TLS to its sidecar (STRICT), which forwards them to the collector app', async () => {
  mesh.write('telemetry.yaml', telemetry('otel-mesh'));
  let n = 0;
  const line = await until('a span at the in-mesh collector', async () => {
    const id = (++n).toString(16).padStart(32, 'c');
    await call(id);
    return /^span (c+[0-9a-f]*) [0-9a-f]{16} SERVER backend\.default xfcc=(\S+)$/m.exec(meshCollector.out()) ?? undefined;
  }, 40_000);
  // The collector's sidecar terminated mTLS and vouches for the exporting proxy's identity.
  assert.match(line[2]!, /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/backend/);
  assert.doesNotMatch(meshCollector.out(), /span \S+ \S+ \S+ otel\.observability/, 'the collector’s own sidecar reports no spans');
});
