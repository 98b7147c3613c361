// The direct OTLP writer against OpenTelemetry's schema: for any batch (unicode, long values needing 2- and 3-byte
// lengths, errors, roots and children, sub-millisecond times) the bytes are exactly what protobufjs encodes from the
// official schema, and they decode to what was recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SpanRecord } from '../span.ts';
import { ExportTraceServiceRequest, encodeWithSchema } from './otlp.ts';
import { writeExportRequest } from './wire.ts';

const hex = (n: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ minLength: 120, maxLength: 300 }), fc.constant('x'.repeat(20_000)));
const fixedTags: Array<[string, string]> = [['node_id', 'sidecar~10.0.0.1~reviews-1.default~default.svc.cluster.local'], ['istio.canonical_service', 'reviews'], ['istio.namespace', 'default']];

const spanArb: fc.Arbitrary<SpanRecord> = fc.record({
  traceId: hex(16),
  spanId: hex(8),
  parentSpanId: fc.option(hex(8), { nil: undefined }),
  name: text,
  kind: fc.constantFrom('SERVER' as const, 'CLIENT' as const),
  startEpochMs: fc.double({ min: 0, max: 4_102_444_800_000, noNaN: true }),
  durationMs: fc.double({ min: 0, max: 3_600_000, noNaN: true }),
  fixedTags: fc.constant(fixedTags),
  tags: fc.array(fc.tuple(text, text), { maxLength: 20 }).map((kv) => kv.flat()),
  error: fc.boolean(),
});

test('writeExportRequest produces the same bytes as protobufjs with the official OTLP schema', () => {
  fc.assert(fc.property(fc.array(spanArb, { minLength: 0, maxLength: 12 }), fc.string({ maxLength: 30 }), fc.string({ maxLength: 10 }), (spans, service, version) => {
    const ours = Buffer.from(writeExportRequest(spans, service, version));
    const reference = Buffer.from(encodeWithSchema(spans, service, version));
    assert.ok(ours.equals(reference), `differs for ${spans.length} spans`);
  }), { numRuns: 300 });
});

test('times: nanoseconds exact to the microsecond, and the decoded request is what was recorded', () => {
  const s: SpanRecord = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: undefined, name: 'reviews.default.svc.cluster.local:9080/*', kind: 'SERVER', startEpochMs: 1_795_307_265_700.6865, durationMs: 82.2764, fixedTags, tags: ['http.url', 'http://é/ü', 'http.status_code', '503'], error: true };
  const msg = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(writeExportRequest([s], 'reviews.default', '1.2.3')), { longs: String, bytes: String, enums: String }) as {
    resource_spans: Array<{ resource: { attributes: Array<{ key: string; value: { string_value: string } }> }; scope_spans: Array<{ scope: { name: string; version: string }; spans: Array<Record<string, unknown>> }> }>;
  };
  const rs = msg.resource_spans[0]!;
  assert.deepEqual(rs.resource.attributes, [{ key: 'service.name', value: { string_value: 'reviews.default' } }]);
  assert.deepEqual(rs.scope_spans[0]!.scope, { name: 'weft-proxy', version: '1.2.3' });
  const span = rs.scope_spans[0]!.spans[0]!;
  assert.equal(span['start_time_unix_nano'], '1795307265700687000');
  assert.equal(span['end_time_unix_nano'], '1795307265782963000');
  assert.equal(span['kind'], 'SPAN_KIND_SERVER');
  assert.deepEqual(span['status'], { code: 'STATUS_CODE_ERROR' });
  assert.equal(Buffer.from(span['trace_id'] as string, 'base64').toString('hex'), s.traceId);
  assert.equal((span['attributes'] as Array<{ key: string }>).length, fixedTags.length + 2);
  // The microsecond arithmetic without BigInt matches BigInt's over the whole range of plausible times.
  fc.assert(fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 0, max: 999_999 }), (whole, frac) => {
    const ms = whole + frac / 1e6;
    const w = Math.floor(ms);
    let us = Math.round((ms - w) * 1000);
    let ww = w;
    if (us === 1000) {
      ww++;
      us = 0;
    }
    const expected = BigInt(ww) * 1_000_000n + BigInt(us) * 1000n;
    const b = Buffer.from(writeExportRequest([{ ...s, startEpochMs: ms, durationMs: 0, tags: [], error: false }], '', ''));
    const decoded = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(b), { longs: String }) as typeof msg;
    assert.equal(decoded.resource_spans[0]!.scope_spans[0]!.spans[0]!['start_time_unix_nano'], expected.toString());
  }), { numRuns: 500 });
});
