// Export over TLS to a real collector on 127.0.0.1 with a test CA: the collector cluster's transport socket, compiled
// from the UpstreamTlsContext Istio builds for a DestinationRule (SIMPLE with caCertificates) or for ISTIO_MUTUAL,
// decides how spans travel. OTLP/HTTP, OTLP/gRPC and Zipkin; a wrong CA or a server without the expected name fails
// the export (counted, logged), never the proxy; no workload certificate yet = no plaintext fallback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCollector, type CollectorTls } from '../../../test/tracing/collector.ts';
import { makeCa, makeLeaf } from '../../../test/gateway-tls/certs.ts';
import { Errors } from '../config/raw.ts';
import { SecretStore } from '../tls/secrets.ts';
import { compileTransportSocket, type UpstreamTls } from '../tls/upstream-tls.ts';
import type { TracingConfig } from './config.ts';
import type { Endpoint } from './http-post.ts';
import { TracingRuntime } from './runtime.ts';
import type { SpanRecord } from './span.ts';

const UPSTREAM = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const HOST = 'otel.observability.svc.cluster.local';
const SPIFFE_COLLECTOR = 'spiffe://cluster.local/ns/observability/sa/otel';
const SPIFFE_PROXY = 'spiffe://cluster.local/ns/default/sa/productpage';

function compile(raw: unknown): UpstreamTls {
  const errors = new Errors();
  const t = compileTransportSocket(raw, 'transport_socket', errors);
  assert.deepEqual(errors.list, []);
  assert.ok(t);
  return t;
}

/** What Istio's cluster builder emits for DestinationRule `tls: { mode: SIMPLE, caCertificates, sni? }`. */
function simple(caFile: string, sni = HOST, sans: string[] = []): UpstreamTls {
  const vc: Record<string, unknown> = { trusted_ca: { filename: caFile } };
  if (sans.length > 0) vc['match_typed_subject_alt_names'] = sans.map((s) => ({ san_type: 'DNS', matcher: { exact: s } }));
  return compile({ name: 'envoy.transport_sockets.tls', typed_config: { '@type': UPSTREAM, sni, common_tls_context: { validation_context: vc } } });
}

/** ISTIO_MUTUAL (explicit, or auto-mTLS's tlsMode-istio match): SDS `default` + `ROOTCA`, Istio's SNI and ALPN. */
function istioMutual(): UpstreamTls {
  return compile({
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM,
      sni: `outbound_.4318_._.${HOST}`,
      common_tls_context: {
        alpn_protocols: ['istio-peer-exchange', 'istio'],
        tls_certificate_sds_secret_configs: [{ name: 'default' }],
        combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA' } },
      },
    },
  });
}

function span(i: number): SpanRecord {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: undefined, name: `op-${i}`, kind: 'SERVER',
    startEpochMs: 1_700_000_000_000, durationMs: 1, fixedTags: [['istio.canonical_service', 'productpage'], ['istio.namespace', 'default']], tags: ['http.status_code', '200'], error: false,
  };
}

function cfg(provider: TracingConfig['provider']): TracingConfig {
  return { provider, randomSampling: 100, clientSampling: 100, overallSampling: 100, customTags: [], spawnUpstreamSpan: false, maxPathTagLength: 256, useRequestIdForTraceSampling: true, packTraceReason: true, providerKey: JSON.stringify(provider) };
}

const otlpHttp: TracingConfig['provider'] = { kind: 'otlp-http', cluster: `outbound|4318||${HOST}`, host: HOST, path: '/v1/traces', timeoutMs: 3000, headers: [], serviceName: 'productpage.default' };
const otlpGrpc: TracingConfig['provider'] = { kind: 'otlp-grpc', cluster: `outbound|4317||${HOST}`, authority: HOST, serviceName: 'productpage.default', timeoutMs: 3000, metadata: [] };
const zipkin: TracingConfig['provider'] = { kind: 'zipkin', cluster: `outbound|9411||${HOST}`, host: HOST, path: '/api/v2/spans', traceId128: true };

interface Pki {
  dir: string;
  ca: string;
  pem(name: string): string;
  tls(leaf: string, mutual?: boolean): CollectorTls;
}

function pki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'weft-trace-tls-'));
  makeCa(dir);
  makeCa(dir, 'other', 'some other CA');
  makeLeaf(dir, 'server', HOST);
  makeLeaf(dir, 'wrong-name', 'elsewhere.example.com');
  makeLeaf(dir, 'mesh-server', 'otel', { san: `URI:${SPIFFE_COLLECTOR}` });
  makeLeaf(dir, 'mesh-client', 'productpage', { san: `URI:${SPIFFE_PROXY}` });
  makeLeaf(dir, 'mesh-client-2', 'productpage', { san: `URI:${SPIFFE_PROXY}-rotated` });
  const pem = (name: string): string => readFileSync(join(dir, name), 'utf8');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    pem,
    tls: (leaf, mutual = false) => ({ key: pem(`${leaf}.key`), cert: pem(`${leaf}.crt`), ...(mutual ? { ca: pem('ca.crt') } : {}) }),
  };
}

function runtime(target: () => Endpoint, logs: string[] = []): TracingRuntime {
  return new TracingRuntime({ nodeId: 'sidecar~127.0.0.1~productpage.default~default.svc.cluster.local', resolve: target, random: () => 0, env: () => undefined, log: (_l, m) => logs.push(m), version: 'test' });
}

async function exportOne(rt: TracingRuntime, provider: TracingConfig['provider']): Promise<void> {
  rt.tracerFor(cfg(provider)).record(span(0));
  await rt.flush(5000);
}

test('DestinationRule SIMPLE with caCertificates: OTLP/HTTP and Zipkin spans arrive over TLS, with the rule’s SNI', async (t) => {
  const p = pki();
  const c = await new TestCollector().start(p.tls('server'));
  const rt = runtime(() => ({ address: '127.0.0.1', port: c.httpPort, tls: simple(p.ca) }));
  t.after(async () => {
    rt.close();
    await c.stop();
    rmSync(p.dir, { recursive: true, force: true });
  });
  await exportOne(rt, otlpHttp);
  await exportOne(rt, zipkin);
  const got = await c.waitFor(() => true, 2);
  assert.deepEqual(got.map((s) => s.via).sort(), ['otlp-http', 'zipkin']);
  assert.equal(c.requests.length, 2);
  for (const r of c.requests) {
    assert.ok(r.tls, 'received over TLS');
    assert.equal(r.tls.servername, HOST, 'SNI from the cluster (DestinationRule sni, else the host)');
    assert.match(r.tls.protocol, /^TLSv1\.[23]$/);
    assert.equal(r.tls.peer, undefined, 'SIMPLE: no client certificate');
  }
  const stats = rt.stats();
  assert.equal(stats[`otlp-http|outbound|4318||${HOST}`]!.exported, 1);
  assert.equal(stats[`zipkin|outbound|9411||${HOST}`]!.exported, 1);
});

test('SIMPLE over OTLP/gRPC: TraceService/Export over TLS', async (t) => {
  const p = pki();
  const c = await new TestCollector().start(p.tls('server'));
  const rt = runtime(() => ({ address: '127.0.0.1', port: c.grpcPort, tls: simple(p.ca, HOST, [HOST]) }));
  t.after(async () => {
    rt.close();
    await c.stop();
    rmSync(p.dir, { recursive: true, force: true });
  });
  await exportOne(rt, otlpGrpc);
  const [s] = await c.waitFor((x) => x.via === 'otlp-grpc');
  assert.equal(s!.service, 'productpage.default');
  assert.equal(rt.stats()[`otlp-grpc|outbound|4317||${HOST}`]!.exported, 1);
});

test('a collector the configured CA did not sign, or whose name the rule does not accept, gets nothing: failures are counted and logged', async (t) => {
  const p = pki();
  const c = await new TestCollector().start(p.tls('wrong-name'));
  const logs: string[] = [];
  const otherCa = runtime(() => ({ address: '127.0.0.1', port: c.httpPort, tls: simple(join(p.dir, 'other.crt')) }), logs);
  const wrongName = runtime(() => ({ address: '127.0.0.1', port: c.httpPort, tls: simple(p.ca, HOST, [HOST]) }), logs);
  const wrongNameGrpc = runtime(() => ({ address: '127.0.0.1', port: c.grpcPort, tls: simple(p.ca, HOST, [HOST]) }), logs);
  const plaintext = runtime(() => ({ address: '127.0.0.1', port: c.httpPort }), logs);
  t.after(async () => {
    for (const r of [otherCa, wrongName, wrongNameGrpc, plaintext]) r.close();
    await c.stop();
    rmSync(p.dir, { recursive: true, force: true });
  });
  await exportOne(otherCa, otlpHttp);
  await exportOne(wrongName, zipkin);
  await exportOne(wrongNameGrpc, otlpGrpc);
  await exportOne(plaintext, otlpHttp);
  assert.equal(otherCa.stats()[`otlp-http|outbound|4318||${HOST}`]!.failed, 1);
  assert.equal(wrongName.stats()[`zipkin|outbound|9411||${HOST}`]!.failed, 1);
  assert.equal(wrongNameGrpc.stats()[`otlp-grpc|outbound|4317||${HOST}`]!.failed, 1);
  assert.equal(plaintext.stats()[`otlp-http|outbound|4318||${HOST}`]!.failed, 1, 'plaintext to a TLS port fails too');
  assert.equal(c.spans.length, 0);
  assert.ok(logs.some((l) => /https:\/\/127\.0\.0\.1:\d+: .*(certificate|issuer)/i.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /match none of match_subject_alt_names/.test(l)), logs.join('\n'));
});

test('ISTIO_MUTUAL to a collector in the mesh: the workload certificate is presented, the collector’s SPIFFE id verified with the mesh roots', async (t) => {
  const p = pki();
  const c = await new TestCollector().start(p.tls('mesh-server', true));
  const store = new SecretStore();
  const tls = istioMutual();
  const target = (): Endpoint => ({ address: '127.0.0.1', port: c.httpPort, tls, secrets: store });
  const logs: string[] = [];
  const rt = runtime(target, logs);
  const grpcRt = runtime(() => ({ ...target(), port: c.grpcPort }), logs);
  t.after(async () => {
    rt.close();
    grpcRt.close();
    await c.stop();
    rmSync(p.dir, { recursive: true, force: true });
  });
  // Before the agent has an identity: nothing is sent (no plaintext fallback), the reason is logged.
  await exportOne(rt, otlpHttp);
  assert.equal(rt.stats()[`otlp-http|outbound|4318||${HOST}`]!.failed, 1);
  assert.ok(logs.some((l) => l.includes('no workload certificate')), logs.join('\n'));
  store.update({ certChainPem: p.pem('mesh-client.crt'), keyPem: p.pem('mesh-client.key'), rootsPem: p.pem('ca.crt'), spiffeId: SPIFFE_PROXY });
  await exportOne(rt, otlpHttp);
  await exportOne(grpcRt, otlpGrpc);
  await c.waitFor(() => true, 2);
  const r = c.requests.find((x) => x.path === '/v1/traces' && x.tls)!;
  assert.equal(r.tls?.servername, `outbound_.4318_._.${HOST}`, 'Istio’s SNI');
  assert.equal(r.tls?.peer, `URI:${SPIFFE_PROXY}`, 'the proxy’s workload identity');
  assert.equal(rt.stats()[`otlp-http|outbound|4318||${HOST}`]!.exported, 1);
  assert.equal(grpcRt.stats()[`otlp-grpc|outbound|4317||${HOST}`]!.exported, 1);
});

test('ISTIO_MUTUAL refuses a collector without a SPIFFE id even when the mesh CA signed it', async (t) => {
  const p = pki();
  const c = await new TestCollector().start(p.tls('server', true));
  const store = new SecretStore();
  store.update({ certChainPem: p.pem('mesh-client.crt'), keyPem: p.pem('mesh-client.key'), rootsPem: p.pem('ca.crt'), spiffeId: SPIFFE_PROXY });
  const logs: string[] = [];
  const rt = runtime(() => ({ address: '127.0.0.1', port: c.httpPort, tls: istioMutual(), secrets: store }), logs);
  t.after(async () => {
    rt.close();
    await c.stop();
    rmSync(p.dir, { recursive: true, force: true });
  });
  await exportOne(rt, otlpHttp);
  assert.equal(rt.stats()[`otlp-http|outbound|4318||${HOST}`]!.failed, 1);
  assert.equal(c.spans.length, 0);
  assert.ok(logs.some((l) => l.includes('no SPIFFE id')), logs.join('\n'));
});

test('a certificate rotation: the next export opens a new connection with the new identity (no connection outlives it)', async (t) => {
  const p = pki();
  const c = await new TestCollector().start(p.tls('mesh-server', true));
  const store = new SecretStore();
  store.update({ certChainPem: p.pem('mesh-client.crt'), keyPem: p.pem('mesh-client.key'), rootsPem: p.pem('ca.crt'), spiffeId: SPIFFE_PROXY });
  const rt = runtime(() => ({ address: '127.0.0.1', port: c.httpPort, tls: istioMutual(), secrets: store }));
  t.after(async () => {
    rt.close();
    await c.stop();
    rmSync(p.dir, { recursive: true, force: true });
  });
  await exportOne(rt, otlpHttp);
  await exportOne(rt, otlpHttp);
  store.update({ certChainPem: p.pem('mesh-client-2.crt'), keyPem: p.pem('mesh-client-2.key'), rootsPem: p.pem('ca.crt'), spiffeId: `${SPIFFE_PROXY}-rotated` });
  await exportOne(rt, otlpHttp);
  assert.deepEqual(c.requests.map((r) => r.tls?.peer), [`URI:${SPIFFE_PROXY}`, `URI:${SPIFFE_PROXY}`, `URI:${SPIFFE_PROXY}-rotated`]);
  assert.equal(rt.stats()[`otlp-http|outbound|4318||${HOST}`]!.exported, 3);
});
