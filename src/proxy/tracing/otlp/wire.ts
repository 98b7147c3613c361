// ExportTraceServiceRequest written straight into one buffer, in protobuf's canonical encoding, without building a
// message object per span (protobufjs's writer allocated ~40 objects per span: the proxy's young generation is capped
// at 1 MB, so that garbage cost more CPU than the spans themselves, bench/tracing/RESULTS.md). Field numbers are
// OpenTelemetry's (opentelemetry-proto v1.x, collector/trace/v1 and the trace/common/resource messages it uses);
// otlp.test.ts checks the bytes decode with the official schema to exactly what was recorded.
import type { SpanRecord } from '../span.ts';

// Tags: field number << 3 | wire type (0 varint, 1 fixed64, 2 length-delimited).
const REQUEST_RESOURCE_SPANS = 0x0a; // ExportTraceServiceRequest.resource_spans = 1
const RESOURCE_SPANS_RESOURCE = 0x0a; // ResourceSpans.resource = 1
const RESOURCE_SPANS_SCOPE_SPANS = 0x12; // ResourceSpans.scope_spans = 2
const RESOURCE_ATTRIBUTES = 0x0a; // Resource.attributes = 1
const SCOPE_SPANS_SCOPE = 0x0a; // ScopeSpans.scope = 1
const SCOPE_SPANS_SPANS = 0x12; // ScopeSpans.spans = 2
const SCOPE_NAME = 0x0a; // InstrumentationScope.name = 1
const SCOPE_VERSION = 0x12; // InstrumentationScope.version = 2
const SPAN_TRACE_ID = 0x0a; // Span.trace_id = 1
const SPAN_SPAN_ID = 0x12; // Span.span_id = 2
const SPAN_PARENT_SPAN_ID = 0x22; // Span.parent_span_id = 4
const SPAN_NAME = 0x2a; // Span.name = 5
const SPAN_KIND = 0x30; // Span.kind = 6
const SPAN_START = 0x39; // Span.start_time_unix_nano = 7 (fixed64)
const SPAN_END = 0x41; // Span.end_time_unix_nano = 8 (fixed64)
const SPAN_ATTRIBUTES = 0x4a; // Span.attributes = 9
const SPAN_STATUS = 0x7a; // Span.status = 15
const STATUS_CODE = 0x18; // Status.code = 3
const KEY_VALUE_KEY = 0x0a; // KeyValue.key = 1
const KEY_VALUE_VALUE = 0x12; // KeyValue.value = 2
const ANY_VALUE_STRING = 0x0a; // AnyValue.string_value = 1

/** SpanKind: SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3. StatusCode: STATUS_CODE_ERROR = 2. */
const KIND = { SERVER: 2, CLIENT: 3 } as const;
const STATUS_CODE_ERROR = 2;

/** A growable output buffer with protobuf's length-delimited fields written in one pass. */
class Out {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Start a length-delimited field: its tag and one byte for a length below 128; returns where the body starts. */
  open(tag: number): number {
    this.ensure(2);
    this.buf[this.pos++] = tag;
    this.pos++;
    return this.pos;
  }

  /** End the field opened at `start`: write its length, moving the body when the length needs more than a byte. */
  close(start: number): void {
    const len = this.pos - start;
    if (len < 0x80) {
      this.buf[start - 1] = len;
      return;
    }
    let extra = 0;
    for (let v = len >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    this.pos += extra;
    let at = start - 1;
    let v = len;
    while (v >= 0x80) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }

  string(tag: number, s: string): void {
    const start = this.open(tag);
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.close(start);
  }

  /** A bytes field from an even-length hex string. */
  hex(tag: number, h: string): void {
    const start = this.open(tag);
    this.ensure(h.length >> 1);
    this.pos += this.buf.write(h, this.pos, 'hex');
    this.close(start);
  }

  /** A KeyValue with a string value, as the message field `tag`. */
  keyValue(tag: number, key: string, value: string): void {
    const kv = this.open(tag);
    this.string(KEY_VALUE_KEY, key);
    const any = this.open(KEY_VALUE_VALUE);
    this.string(ANY_VALUE_STRING, value);
    this.close(any);
    this.close(kv);
  }

  /**
   * fixed64 nanoseconds since the epoch from ms with sub-ms precision, exact to the microsecond without BigInt:
   * ns = whole ms × 10⁶ + µs × 10³, split into 32-bit halves with every intermediate below 2⁵³.
   */
  nanos(tag: number, ms: number): void {
    let whole = Math.floor(ms);
    let us = Math.round((ms - whole) * 1000);
    if (us === 1000) {
      whole++;
      us = 0;
    }
    const high = Math.floor(whole / 0x100000); // whole = high·2²⁰ + low
    const low = whole - high * 0x100000;
    const x = high * 1e6; // < 2⁴², so x·2²⁰ = (x >> 12)·2³² + (x mod 2¹²)·2²⁰
    let lo = (x % 4096) * 0x100000 + low * 1e6 + us * 1000;
    const hi = Math.floor(x / 4096) + Math.floor(lo / 0x100000000);
    lo %= 0x100000000;
    this.ensure(9);
    this.buf[this.pos++] = tag;
    this.buf.writeUInt32LE(lo, this.pos);
    this.buf.writeUInt32LE(hi, this.pos + 4);
    this.pos += 8;
  }
}

/** A tracer's fixed tags as encoded Span.attributes fields, built once per tracer (spans share its array). */
const fixedBytes = new WeakMap<object, Buffer>();

function fixedAttributes(tags: ReadonlyArray<readonly [string, string]>): Buffer {
  let b = fixedBytes.get(tags);
  if (!b) {
    const o = new Out(256);
    for (const [k, v] of tags) o.keyValue(SPAN_ATTRIBUTES, k, v);
    b = Buffer.from(o.buf.subarray(0, o.pos));
    fixedBytes.set(tags, b);
  }
  return b;
}

function span(o: Out, s: SpanRecord): void {
  const start = o.open(SCOPE_SPANS_SPANS);
  o.hex(SPAN_TRACE_ID, s.traceId);
  o.hex(SPAN_SPAN_ID, s.spanId);
  if (s.parentSpanId !== undefined) o.hex(SPAN_PARENT_SPAN_ID, s.parentSpanId);
  o.string(SPAN_NAME, s.name);
  o.byte(SPAN_KIND);
  o.byte(KIND[s.kind]);
  o.nanos(SPAN_START, s.startEpochMs);
  o.nanos(SPAN_END, s.startEpochMs + s.durationMs);
  const fixed = fixedAttributes(s.fixedTags);
  o.ensure(fixed.length);
  o.pos += fixed.copy(o.buf, o.pos);
  const tags = s.tags;
  for (let i = 0; i < tags.length; i += 2) o.keyValue(SPAN_ATTRIBUTES, tags[i]!, tags[i + 1]!);
  if (s.error) {
    const st = o.open(SPAN_STATUS);
    o.byte(STATUS_CODE);
    o.byte(STATUS_CODE_ERROR);
    o.close(st);
  }
  o.close(start);
}

/** One batch as an ExportTraceServiceRequest: one resource (service.name), one scope (weft-proxy, version), the spans. */
export function writeExportRequest(spans: readonly SpanRecord[], serviceName: string, version: string): Uint8Array {
  const o = new Out(1024 + spans.length * 1024);
  const rs = o.open(REQUEST_RESOURCE_SPANS);
  const res = o.open(RESOURCE_SPANS_RESOURCE);
  o.keyValue(RESOURCE_ATTRIBUTES, 'service.name', serviceName);
  o.close(res);
  const ss = o.open(RESOURCE_SPANS_SCOPE_SPANS);
  const scope = o.open(SCOPE_SPANS_SCOPE);
  o.string(SCOPE_NAME, 'weft-proxy');
  o.string(SCOPE_VERSION, version);
  o.close(scope);
  for (const s of spans) span(o, s);
  o.close(ss);
  o.close(rs);
  return o.buf.subarray(0, o.pos);
}
