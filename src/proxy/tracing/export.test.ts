// Export to a real collector on 127.0.0.1: OTLP/HTTP protobuf, OTLP/gRPC and Zipkin JSON decode to the spans that
// were recorded; a full queue drops and counts; a collector that is down or failing never makes add() throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCollector } from '../../../test/tracing/collector.ts';
import { BatchExporter, type SpanSink } from './exporter.ts';
import { TracingRuntime } from './runtime.ts';
import type { SpanRecord } from './span.ts';
import type { TracingConfig } from './config.ts';

function span(i: number, over: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: i === 0 ? undefined : '0000000000000001',
    name: `op-${i}`, kind: i === 0 ? 'SERVER' : 'CLIENT', startEpochMs: 1_700_000_000_123.456, durationMs: 2.5,
    fixedTags: [['istio.canonical_service', 'reviews'], ['istio.namespace', 'default']], tags: ['http.status_code', '200'], error: false, ...over,
  };
}

function runtime(port: number): TracingRuntime {
  return new TracingRuntime({ nodeId: 'sidecar~127.0.0.1~t.default~default.svc.cluster.local', resolve: () => ({ address: '127.0.0.1', port }), random: () => 0, env: () => undefined, log: () => undefined, version: 'test' });
}

function cfg(provider: TracingConfig['provider']): TracingConfig {
  return { provider, randomSampling: 100, clientSampling: 100, overallSampling: 100, customTags: [{ tag: 'istio.canonical_service', kind: 'literal', value: 'productpage' }], spawnUpstreamSpan: false, maxPathTagLength: 256, useRequestIdForTraceSampling: true, packTraceReason: true, providerKey: JSON.stringify(provider) };
}

test('OTLP over HTTP: protobuf POST /v1/traces decodes with the OTLP schema to the recorded spans', async () => {
  const c = await new TestCollector().start();
  const rt = runtime(c.httpPort);
  try {
    const tracer = rt.tracerFor(cfg({ kind: 'otlp-http', cluster: 'outbound|4318||otel', host: 'otel', path: '/v1/traces', timeoutMs: 2000, headers: [['x-tenant', 'a']], serviceName: 'productpage.default' }));
    tracer.record(span(0));
    tracer.record(span(1, { error: true }));
    await rt.flush(5000);
    const got = await c.waitFor(() => true, 2);
    assert.deepEqual(c.requests[0], { path: '/v1/traces', contentType: 'application/x-protobuf' });
    assert.equal(got[0]!.via, 'otlp-http');
    assert.equal(got[0]!.service, 'productpage.default');
    assert.equal(got[0]!.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(got[0]!.kind, 'SERVER');
    assert.equal(got[1]!.kind, 'CLIENT');
    assert.equal(got[1]!.parentSpanId, '0000000000000001');
    assert.equal(got[0]!.parentSpanId, undefined);
    assert.equal(got[0]!.startUnixNano, 1_700_000_000_123_456_000n);
    assert.equal(got[0]!.tags['istio.canonical_service'], 'reviews');
    assert.equal(got[1]!.error, true);
    assert.equal(rt.stats()['otlp-http|outbound|4318||otel']!.exported, 2);
  } finally {
    rt.close();
    await c.stop();
  }
});

test('OTLP over gRPC: TraceService/Export with the grpc_service initial metadata', async () => {
  const c = await new TestCollector().start();
  const rt = runtime(c.grpcPort);
  try {
    const tracer = rt.tracerFor(cfg({ kind: 'otlp-grpc', cluster: 'outbound|4317||otel', authority: 'otel', serviceName: 'productpage.default', timeoutMs: 2000, metadata: [['x-tenant', 'team-a']] }));
    for (let i = 0; i < 3; i++) tracer.record(span(i));
    await rt.flush(5000);
    const got = await c.waitFor((s) => s.via === 'otlp-grpc', 3);
    assert.deepEqual(got.map((s) => s.name), ['op-0', 'op-1', 'op-2']);
    assert.equal(c.requests.at(-1)!.metadata?.['x-tenant'], 'team-a', 'grpc_service.initial_metadata is sent');
  } finally {
    rt.close();
    await c.stop();
  }
});

test('Zipkin v2 JSON: POST /api/v2/spans with microsecond times, 64-bit ids shortened, service from Istio tags', async () => {
  const c = await new TestCollector().start();
  const rt = runtime(c.httpPort);
  try {
    const tracer = rt.tracerFor(cfg({ kind: 'zipkin', cluster: 'outbound|9411||zipkin', host: 'zipkin', path: '/api/v2/spans', traceId128: false }));
    tracer.record(span(0, { traceId: '0000000000000000a3ce929d0e0e4736' }));
    await rt.flush(5000);
    const [s] = await c.waitFor((x) => x.via === 'zipkin');
    assert.equal(c.requests[0]!.contentType, 'application/json');
    assert.equal(s!.traceId, '0000000000000000a3ce929d0e0e4736');
    assert.equal(s!.service, 'reviews.default');
    assert.equal(s!.startUnixNano, 1_700_000_000_123_456_000n);
    assert.equal(s!.tags['http.status_code'], '200');
  } finally {
    rt.close();
    await c.stop();
  }
});

test('bounded queue: spans past maxQueue are dropped and counted; batches respect maxBatch', async () => {
  const batches: number[] = [];
  const sink: SpanSink = { send: async (s) => void batches.push(s.length), close: () => undefined };
  const e = new BatchExporter({ sink: async () => sink, maxQueue: 10, maxBatch: 4, intervalMs: 60_000, log: () => undefined, name: 't' });
  for (let i = 0; i < 15; i++) e.add(span(i));
  assert.equal(e.stats.dropped, 5);
  await e.flush(5000);
  assert.deepEqual(batches.reduce((a, b) => a + b, 0), 10);
  assert.ok(batches.every((b) => b <= 4));
  assert.equal(e.stats.exported, 10);
  e.close();
  e.add(span(0));
  assert.equal(e.stats.dropped, 6, 'after close, spans are dropped');
});

test('a collector that is down or answers 500: add() never throws, failures are counted and logged once, flush is bounded', async () => {
  const c = await new TestCollector().start();
  c.failWith = 500;
  const logs: string[] = [];
  const rt = new TracingRuntime({ nodeId: 'n', resolve: () => ({ address: '127.0.0.1', port: c.httpPort }), random: () => 0, env: () => undefined, log: (_l, m) => logs.push(m), version: 't' });
  const down = new TracingRuntime({ nodeId: 'n', resolve: () => undefined, random: () => 0, env: () => undefined, log: (_l, m) => logs.push(m), version: 't' });
  try {
    const p: TracingConfig['provider'] = { kind: 'otlp-http', cluster: 'c', host: 'h', path: '/v1/traces', timeoutMs: 1000, headers: [], serviceName: 's' };
    const failing = rt.tracerFor(cfg(p));
    const nowhere = down.tracerFor(cfg(p));
    for (let i = 0; i < 3; i++) {
      failing.record(span(i));
      nowhere.record(span(i));
    }
    await Promise.all([rt.flush(3000), down.flush(3000)]);
    failing.record(span(4));
    await rt.flush(3000);
    assert.equal(rt.stats()['otlp-http|c']!.failed, 4);
    assert.equal(down.stats()['otlp-http|c']!.failed, 3);
    assert.equal(logs.filter((l) => l.includes('answered 500')).length, 1, 'rate-limited log');
    assert.ok(logs.some((l) => l.includes('no healthy endpoint in cluster c')));
  } finally {
    rt.close();
    down.close();
    await c.stop();
  }
});
