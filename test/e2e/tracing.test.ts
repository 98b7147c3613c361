// Distributed tracing end to end, configured as an Istio user does: MeshConfig extensionProviders (OpenTelemetry over
// HTTP, Zipkin) and a mesh-wide Telemetry in istio-system, a real `weft up`, two `weft run` workloads whose app
// forwards the trace headers (as Bookinfo's do), and a collector in this test that decodes what arrives with the
// OTLP protobuf schema (and Zipkin v2 JSON). One request yields one trace: frontend's server span → its client
// span → backend's server span, with Istio's tags.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Mesh, curl, freePort, service, startWorkload, stopAll, until, weft, type Workload } from './harness.ts';
import { TestCollector, type CollectedSpan } from '../tracing/collector.ts';

const traceApp = fileURLToPath(new URL('../tracing/apps/trace-app.ts', import.meta.url));

/** A Mesh whose `weft up` reads a MeshConfig file (the harness's start() takes none). */
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
const collector = new TestCollector();
let frontend: Workload;
let backend: Workload;

const telemetry = (provider: string, percent: number): string => `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: ${provider} }]
    randomSamplingPercentage: ${percent}
    customTags:
      team: { literal: { value: storefront } }
`;

/** A port nothing listens on: the "down" collector. */
let closedPort = 0;

before(async () => {
  await collector.start();
  closedPort = await freePort();
  await mesh.startWith(`extensionProviders:
- name: otel
  opentelemetry: { service: otel-collector.observability.svc.cluster.local, port: 4318, http: { path: /v1/traces } }
- name: zipkin
  zipkin: { service: zipkin.observability.svc.cluster.local, port: 9411 }
- name: down
  opentelemetry: { service: down-collector.observability.svc.cluster.local, port: 4318, http: { path: /v1/traces } }
`);
  // The collector runs outside the mesh; ServiceEntries give it the service names the providers refer to.
  const collectorEntry = (name: string, port: number): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: observability }
spec:
  hosts: [${name}.observability.svc.cluster.local]
  location: MESH_EXTERNAL
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${collector.httpPort} } }]
`;
  mesh.write('collector.yaml', `${collectorEntry('otel-collector', 4318)}---\n${collectorEntry('zipkin', 9411)}---\n${collectorEntry('down-collector', 4318).replace(String(collector.httpPort), String(closedPort))}`);
  mesh.write('services.yaml', `${service('frontend', 9080, 'http')}---\n${service('backend', 9080, 'http')}`);
  mesh.write('telemetry.yaml', telemetry('otel', 100));
  const [fp, bp] = [await freePort(), await freePort()];
  [frontend, backend] = await Promise.all([
    startWorkload(mesh, 'frontend-v1', 'app=frontend,version=v1', 'http', fp, [process.execPath, traceApp, String(fp), 'frontend', 'http://backend:9080/work']),
    startWorkload(mesh, 'backend-v1', 'app=backend,version=v1', 'http', bp, [process.execPath, traceApp, String(bp), 'backend']),
  ]);
});

after(async () => {
  await stopAll();
  await mesh.close();
  await collector.stop();
});

/** GET the frontend through its sidecar's inbound listener, as a caller outside the mesh would. */
async function callFrontend(headers: string[] = []): Promise<string> {
  const r = await curl([...headers.flatMap((h) => ['-H', h]), '-A', 'trace-e2e/1', `http://${frontend.address}:${frontend.port}/`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function byTrace(traceId: string): (s: CollectedSpan) => boolean {
  return (s) => s.traceId === traceId;
}

/** The three spans of one request, identified: frontend SERVER, frontend CLIENT, backend SERVER. */
function chain(spans: CollectedSpan[]): { fServer: CollectedSpan; fClient: CollectedSpan; bServer: CollectedSpan } {
  const find = (svc: string, kind: string): CollectedSpan => {
    const s = spans.find((x) => x.tags['istio.canonical_service'] === svc && x.kind === kind);
    assert.ok(s, `no ${kind} span from ${svc} in ${JSON.stringify(spans.map((x) => [x.tags['istio.canonical_service'], x.kind]))}`);
    return s;
  };
  return { fServer: find('frontend', 'SERVER'), fClient: find('frontend', 'CLIENT'), bServer: find('backend', 'SERVER') };
}

test('one request, one trace over OTLP/HTTP: server → client → server spans linked, with Istio tags', async () => {
  // Config reaches the sidecars asynchronously: call until a trace shows up, then check one request's spans.
  const first = await until('spans from the frontend sidecar', async () => {
    await callFrontend();
    return collector.spans.find((s) => s.tags['istio.canonical_service'] === 'frontend' && s.kind === 'SERVER');
  }, 40_000);
  assert.equal(first.via, 'otlp-http');
  assert.equal(first.parentSpanId, undefined, 'a request without trace headers starts a trace: the frontend’s server span is its root');
  assert.equal(await callFrontend(), 'frontend -> backend');
  // A request from a traced caller: its context is continued.
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  assert.equal(await callFrontend([`traceparent: 00-${traceId}-b7ad6b7169203331-01`]), 'frontend -> backend');
  const spans = await collector.waitFor(byTrace(traceId), 3);
  const { fServer, fClient, bServer } = chain(spans);
  assert.equal(fServer.parentSpanId, 'b7ad6b7169203331', 'the caller’s span is the parent');
  assert.equal(fClient.parentSpanId, fServer.spanId, 'the app forwarded the context: client span is a child of the server span');
  assert.equal(bServer.parentSpanId, fClient.spanId, 'the backend’s server span is a child of the client span');
  assert.equal(new Set([fServer.spanId, fClient.spanId, bServer.spanId]).size, 3);
  assert.equal(fServer.service, 'frontend.default');
  assert.equal(bServer.service, 'backend.default');
  for (const s of [fServer, fClient, bServer]) {
    assert.equal(s.tags['istio.namespace'], 'default');
    assert.equal(s.tags['istio.mesh_id'], 'cluster.local');
    assert.equal(s.tags['team'], 'storefront');
    assert.equal(s.tags['http.method'], 'GET');
    assert.equal(s.tags['http.status_code'], '200');
    assert.equal(s.tags['response_flags'], '-');
    assert.equal(s.tags['component'], 'proxy');
    assert.match(s.tags['node_id'] ?? '', /^sidecar~/);
    assert.match(s.tags['request_size'] ?? '', /^\d+$/);
    assert.match(s.tags['response_size'] ?? '', /^[1-9]\d*$/);
    assert.ok(s.tags['peer.address'], 'peer.address');
    assert.equal(s.error, false);
  }
  const rid = fServer.tags['guid:x-request-id'];
  assert.match(rid ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(fClient.tags['guid:x-request-id'], rid, 'x-request-id generated once, forwarded by the app');
  assert.equal(bServer.tags['guid:x-request-id'], rid);
  assert.equal(fClient.tags['upstream_cluster'], 'outbound|9080||backend.default.svc.cluster.local');
  assert.equal(fClient.name, 'backend.default.svc.cluster.local:9080/*');
  assert.match(fServer.tags['upstream_cluster'] ?? '', /^inbound\|\d+\|\|$/);
  assert.equal(fServer.tags['user_agent'], 'trace-e2e/1');
  assert.equal(fClient.tags['http.url'], 'http://backend:9080/work');
});

test("the caller's sampling decision is honoured: a trace marked not sampled yields no spans", async () => {
  const unsampled = '11111111111111111111111111111111';
  const sampled = '22222222222222222222222222222222';
  await callFrontend([`traceparent: 00-${unsampled}-b7ad6b7169203331-00`]);
  await callFrontend([`x-b3-traceid: ${sampled}`, 'x-b3-spanid: b7ad6b7169203331', 'x-b3-sampled: 1']);
  // Each proxy exports in order: once the later trace's spans are in, the earlier one's would be too.
  const spans = await collector.waitFor(byTrace(sampled), 3);
  assert.equal(chain(spans).fServer.parentSpanId, 'b7ad6b7169203331', 'B3 in, continued');
  assert.equal(collector.spans.filter(byTrace(unsampled)).length, 0);
});

test('the backend app sees W3C context from its sidecar, with the client span as parent', async () => {
  const r = await curl([`http://${backend.address}:${backend.port}/headers`, '-H', 'traceparent: 00-33333333333333333333333333333333-b7ad6b7169203331-01']);
  const seen = JSON.parse(r.stdout) as Record<string, string>;
  const [server] = await collector.waitFor(byTrace('33333333333333333333333333333333'));
  assert.equal(seen['traceparent'], `00-33333333333333333333333333333333-${server!.spanId}-01`);
  assert.match(seen['x-request-id'] ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-9[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a generated id carries the sampled reason (…-9xxx-…), as Envoy packs it');
  assert.equal(server!.tags['guid:x-request-id'], seen['x-request-id']);
});

test('switching the Telemetry provider to Zipkin: B3 propagation and Zipkin v2 JSON export, still one trace', async () => {
  mesh.write('telemetry.yaml', telemetry('zipkin', 100));
  const z = await until('spans exported to Zipkin', async () => {
    await callFrontend();
    return collector.spans.find((s) => s.via === 'zipkin' && s.tags['istio.canonical_service'] === 'backend');
  }, 40_000);
  const spans = await collector.waitFor((s) => s.via === 'zipkin' && s.traceId === z.traceId, 3);
  const { fServer, fClient, bServer } = chain(spans);
  assert.equal(fClient.parentSpanId, fServer.spanId);
  assert.equal(bServer.parentSpanId, fClient.spanId);
  assert.equal(bServer.service, 'backend.default');
  assert.deepEqual(collector.requests.at(-1), { path: '/api/v2/spans', contentType: 'application/json' });
});

test('HTTP/2 (h2c) requests are traced on the HTTP/2 path too, and the context reaches the app', async () => {
  const traceId = '44444444444444444444444444444444';
  const r = await curl(['--http2-prior-knowledge', '-H', `traceparent: 00-${traceId}-b7ad6b7169203331-01`, `http://${backend.address}:${backend.port}/headers`]);
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as Record<string, string>;
  const [server] = await collector.waitFor(byTrace(traceId));
  assert.equal(server!.tags['http.protocol'], 'HTTP/2');
  assert.equal(server!.parentSpanId, 'b7ad6b7169203331');
  assert.ok((seen['traceparent'] ?? seen['x-b3-spanid'] ?? '').includes(server!.spanId), JSON.stringify(seen));
});

test("the sidecar's admin /stats counts exported spans per tracer", async () => {
  const stats = await (await fetch(`http://127.0.0.1:${frontend.admin}/stats`)).text();
  const sent = /^tracing\.otlp-http\|outbound\|4318\|\|otel-collector\.observability\.svc\.cluster\.local\.spans_sent: (\d+)$/m.exec(stats);
  assert.ok(sent && Number(sent[1]) > 0, stats.split('\n').filter((l) => l.startsWith('tracing.')).join('\n'));
  assert.match(stats, /^tracing\.zipkin\|outbound\|9411\|\|zipkin\.observability\.svc\.cluster\.local\.spans_dropped: 0$/m);
});

test('a collector that is down never fails or blocks a request; the failures are counted', async () => {
  mesh.write('telemetry.yaml', telemetry('down', 100));
  const failed = (): Promise<number> => fetch(`http://127.0.0.1:${frontend.admin}/stats`).then(async (r) => {
    const m = /^tracing\.otlp-http\|outbound\|4318\|\|down-collector\.observability\.svc\.cluster\.local\.spans_failed: (\d+)$/m.exec(await r.text());
    return m ? Number(m[1]) : 0;
  });
  await until('span exports to the down collector to fail', async () => {
    assert.equal(await callFrontend(), 'frontend -> backend');
    return (await failed()) > 0 ? true : undefined;
  }, 40_000);
  for (let i = 0; i < 5; i++) assert.equal(await callFrontend(), 'frontend -> backend');
});
