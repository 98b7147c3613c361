// OpenTelemetry's official OTLP trace schema: otlp-descriptor.gen.json is opentelemetry-proto's collector/trace/v1
// (and the trace, common, resource messages it uses) compiled for protobufjs by scripts/gen-otlp-descriptor.ts.
// The proxy does not load it (wire.ts writes the same messages directly); tests and the test collector decode with
// it, and encodeWithSchema() is the reference wire.ts is checked against.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import type { SpanRecord } from '../span.ts';

const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(new URL('./otlp-descriptor.gen.json', import.meta.url), 'utf8')) as protobuf.INamespace);
/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest */
export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
export { EXPORT_METHOD } from './sinks.ts';

/** SpanKind: SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3. StatusCode: STATUS_CODE_ERROR = 2. */
const KIND = { SERVER: 2, CLIENT: 3 } as const;

/** ms since the epoch → ns, to the microsecond (a double holds epoch ms to ~0.2 µs, no finer). */
function unixNanos(ms: number): string {
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e3)) * 1000n).toString();
}

interface KeyValue {
  key: string;
  value: { string_value: string };
}

/** The fixed tags of a tracer as OTLP attributes, built once per tracer (every span shares its fixedTags array). */
const fixedAttributes = new WeakMap<object, KeyValue[]>();

function attributes(s: SpanRecord): KeyValue[] {
  let fixed = fixedAttributes.get(s.fixedTags);
  if (!fixed) {
    fixed = s.fixedTags.map(([key, v]) => ({ key, value: { string_value: v } }));
    fixedAttributes.set(s.fixedTags, fixed);
  }
  const out = fixed.slice();
  for (let i = 0; i < s.tags.length; i += 2) out.push({ key: s.tags[i]!, value: { string_value: s.tags[i + 1]! } });
  return out;
}

/** The request for one batch encoded by protobufjs from the schema: the reference for wire.ts's writeExportRequest. */
export function encodeWithSchema(spans: readonly SpanRecord[], serviceName: string, version: string): Uint8Array {
  const otlpSpans = spans.map((s) => ({
    trace_id: Buffer.from(s.traceId, 'hex'),
    span_id: Buffer.from(s.spanId, 'hex'),
    ...(s.parentSpanId !== undefined ? { parent_span_id: Buffer.from(s.parentSpanId, 'hex') } : {}),
    name: s.name,
    kind: KIND[s.kind],
    start_time_unix_nano: unixNanos(s.startEpochMs),
    end_time_unix_nano: unixNanos(s.startEpochMs + s.durationMs),
    attributes: attributes(s),
    ...(s.error ? { status: { code: 2 } } : {}),
  }));
  return ExportTraceServiceRequest.encode({
    resource_spans: [{
      resource: { attributes: [{ key: 'service.name', value: { string_value: serviceName } }] },
      scope_spans: [{ scope: { name: 'weft-proxy', version }, spans: otlpSpans }],
    }],
  }).finish();
}
