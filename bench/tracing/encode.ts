// CPU per span of encoding one export batch, in isolation: OTLP written directly (wire.ts, what the proxy sends),
// OTLP through protobufjs with the official schema (the previous encoder, kept as the reference), Zipkin v2 JSON.
// Run it as the proxy runs (1 MB young generation) to see allocation cost:
//   node --max-semi-space-size=1 bench/tracing/encode.ts [batches=200]
import { encodeWithSchema } from '../../src/proxy/tracing/otlp/otlp.ts';
import { writeExportRequest } from '../../src/proxy/tracing/otlp/wire.ts';
import type { SpanRecord } from '../../src/proxy/tracing/span.ts';
import { toZipkin } from '../../src/proxy/tracing/zipkin/zipkin.ts';

const BATCHES = Number(process.argv[2] ?? 200);
const fixed: Array<[string, string]> = [['node_id', 'sidecar~127.0.10.10~reviews-v2.default~default.svc.cluster.local'], ['istio.canonical_revision', 'v2'], ['istio.canonical_service', 'reviews'], ['istio.cluster_id', 'Kubernetes'], ['istio.mesh_id', 'cluster.local'], ['istio.namespace', 'default']];
/** A Bookinfo-like client span (the tags docs/tracing.md shows). */
const span = (i: number): SpanRecord => ({
  traceId: '539daec6ff40d7da1baf3a579924af24', spanId: (i + 1).toString(16).padStart(16, '0'), parentSpanId: '4f00d3a6f8bbac73', name: 'ratings.default.svc.cluster.local:9080/*',
  kind: 'CLIENT', startEpochMs: 1795307265700.686 + i, durationMs: 82.276, fixedTags: fixed, error: false,
  tags: ['component', 'proxy', 'guid:x-request-id', '8fa9be2b-fd45-4dba-89c7-b16ad1b6e413', 'http.url', 'http://ratings:9080/ratings/0', 'http.method', 'GET', 'http.protocol', 'HTTP/1.1', 'downstream_cluster', '-', 'user_agent', 'node', 'peer.address', '127.0.0.1', 'request_size', '0', 'response_size', '48', 'upstream_cluster', 'outbound|9080||ratings.default.svc.cluster.local', 'upstream_cluster.name', 'outbound|9080||ratings.default.svc.cluster.local', 'http.status_code', '200', 'response_flags', '-', 'upstream_address', '127.0.10.5:43085'],
});
const spans = Array.from({ length: 512 }, (_, i) => span(i));
const encoders: Record<string, () => Uint8Array> = {
  'otlp (wire.ts)': () => writeExportRequest(spans, 'reviews.default', 'bench'),
  'otlp (protobufjs schema)': () => encodeWithSchema(spans, 'reviews.default', 'bench'),
  'zipkin json': () => Buffer.from(JSON.stringify(spans.map((s) => toZipkin(s, true)))),
};
for (const [name, enc] of Object.entries(encoders)) {
  for (let i = 0; i < 30; i++) enc();
  const c0 = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < BATCHES; i++) bytes += enc().length;
  const c = process.cpuUsage(c0);
  const n = BATCHES * spans.length;
  console.log(`${name.padEnd(26)} ${((c.user + c.system) / n).toFixed(2).padStart(6)} µs CPU per span, ${(bytes / n).toFixed(0)} bytes per span`);
}
