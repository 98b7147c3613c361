// Trace context propagation: read the caller's context from W3C Trace Context (`traceparent`, `tracestate`) or B3
// (`b3` single header, or `x-b3-traceid` / `x-b3-spanid` / `x-b3-parentspanid` / `x-b3-sampled` / `x-b3-flags`),
// and write the context of a new span in the tracer's format. Malformed headers are ignored (a new trace starts),
// never an error: a client's bad header must not fail its request.

/** A span's identity as it travels between processes. Ids are lowercase hex: trace 32 chars, span 16. */
export interface SpanContext {
  traceId: string;
  spanId: string;
  /** The caller's sampling decision; undefined = none was made (the receiving tracer decides). */
  sampled: boolean | undefined;
  /** W3C `tracestate`, passed on unchanged. */
  tracestate?: string | undefined;
}

/** What a request's headers say: a parent context, or only a sampling decision (`b3: 0`, `x-b3-sampled` alone). */
export interface Extracted {
  parent: SpanContext | undefined;
  sampled: boolean | undefined;
}

/** Every header this module reads or writes: stripped from a forwarded request before the new context is written. */
export const TRACE_HEADERS: ReadonlySet<string> = new Set(['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags']);

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZERO16 = '0000000000000000';
const ZERO32 = ZERO16 + ZERO16;

/** A B3 trace id (16 or 32 hex) as 32 hex, or undefined when malformed or all zeros. */
function b3TraceId(v: string): string | undefined {
  const id = v.toLowerCase();
  if (HEX32.test(id)) return id === ZERO32 ? undefined : id;
  if (HEX16.test(id)) return id === ZERO16 ? undefined : ZERO16 + id;
  return undefined;
}

function spanIdOf(v: string): string | undefined {
  const id = v.toLowerCase();
  return HEX16.test(id) && id !== ZERO16 ? id : undefined;
}

function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  switch (v.toLowerCase()) {
    case '1':
    case 'true':
    case 'd':
      return true;
    case '0':
    case 'false':
      return false;
    default:
      return undefined;
  }
}

/** W3C traceparent `00-<trace>-<span>-<flags>`: version ff is invalid; later versions may append fields. */
export function parseTraceparent(v: string): SpanContext | undefined {
  const s = v.trim().toLowerCase();
  if (s.length < 55 || s[2] !== '-' || s[35] !== '-' || s[52] !== '-') return undefined;
  const version = s.slice(0, 2);
  if (!/^[0-9a-f]{2}$/.test(version) || version === 'ff') return undefined;
  if (version === '00' ? s.length !== 55 : s.length > 55 && s[55] !== '-') return undefined;
  const traceId = s.slice(3, 35);
  const spanId = s.slice(36, 52);
  const flags = s.slice(53, 55);
  if (!HEX32.test(traceId) || traceId === ZERO32 || spanIdOf(spanId) === undefined || !/^[0-9a-f]{2}$/.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** B3 single header: `<trace>-<span>[-<sampling>[-<parent>]]`, or a sampling decision alone (`0`, `1`, `d`). */
export function parseB3Single(v: string): Extracted | undefined {
  const parts = v.trim().split('-');
  if (parts.length === 1) {
    const sampled = b3Sampled(parts[0]);
    return sampled === undefined ? undefined : { parent: undefined, sampled };
  }
  if (parts.length > 4) return undefined;
  const traceId = b3TraceId(parts[0]!);
  const spanId = spanIdOf(parts[1]!);
  if (!traceId || !spanId) return undefined;
  let sampled: boolean | undefined;
  if (parts[2] !== undefined) {
    sampled = b3Sampled(parts[2]);
    if (sampled === undefined) return undefined;
  }
  if (parts[3] !== undefined && spanIdOf(parts[3]) === undefined) return undefined;
  return { parent: { traceId, spanId, sampled }, sampled };
}

/**
 * The caller's context from flat request headers (`[name, value, …]`, names lowercase). W3C wins when both are
 * present and valid (it is the newer standard); B3 single wins over the multi-header form, as in B3's spec.
 */
export function extractContext(headers: readonly string[]): Extracted {
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  let b3: string | undefined;
  let xTrace: string | undefined;
  let xSpan: string | undefined;
  let xSampled: string | undefined;
  let xFlags: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    // Cheap filter: every trace header starts with t, b or x-b3.
    const c = name.charCodeAt(0);
    if (c !== 116 && c !== 98 && c !== 120) continue;
    const value = headers[i + 1]!;
    switch (name) {
      case 'traceparent':
        traceparent ??= value;
        break;
      case 'tracestate':
        tracestate = tracestate === undefined ? value : `${tracestate},${value}`;
        break;
      case 'b3':
        b3 ??= value;
        break;
      case 'x-b3-traceid':
        xTrace ??= value;
        break;
      case 'x-b3-spanid':
        xSpan ??= value;
        break;
      case 'x-b3-sampled':
        xSampled ??= value;
        break;
      case 'x-b3-flags':
        xFlags ??= value;
        break;
    }
  }
  if (traceparent !== undefined) {
    const ctx = parseTraceparent(traceparent);
    if (ctx) {
      if (tracestate !== undefined && tracestate.length <= 512) ctx.tracestate = tracestate;
      return { parent: ctx, sampled: ctx.sampled };
    }
  }
  if (b3 !== undefined) {
    const e = parseB3Single(b3);
    if (e) return e;
  }
  const sampled = xFlags === '1' ? true : b3Sampled(xSampled);
  if (xTrace !== undefined && xSpan !== undefined) {
    const traceId = b3TraceId(xTrace);
    const spanId = spanIdOf(xSpan);
    if (traceId && spanId) return { parent: { traceId, spanId, sampled }, sampled };
  }
  return { parent: undefined, sampled };
}

/** How a tracer writes context: W3C (OpenTelemetry) or B3 multi-header (Zipkin). */
export type PropagationFormat = 'w3c' | 'b3';

/** The headers that carry `ctx` (the new span, parent of the next hop), as `[name, value, …]`. */
export function contextHeaders(format: PropagationFormat, ctx: SpanContext, parentSpanId: string | undefined): string[] {
  const sampled = ctx.sampled === true;
  if (format === 'w3c') {
    const out = ['traceparent', `00-${ctx.traceId}-${ctx.spanId}-${sampled ? '01' : '00'}`];
    if (ctx.tracestate !== undefined) out.push('tracestate', ctx.tracestate);
    return out;
  }
  // 64-bit trace ids (Zipkin trace_id_128bit false, or a 64-bit caller) travel as 16 hex characters.
  const traceId = ctx.traceId.startsWith(ZERO16) ? ctx.traceId.slice(16) : ctx.traceId;
  const out = ['x-b3-traceid', traceId, 'x-b3-spanid', ctx.spanId];
  if (parentSpanId !== undefined) out.push('x-b3-parentspanid', parentSpanId);
  out.push('x-b3-sampled', sampled ? '1' : '0');
  return out;
}

/** `headers` without any trace header (the same array when it has none). */
export function stripTraceHeaders(headers: string[]): string[] {
  let i = 0;
  for (; i < headers.length; i += 2) if (TRACE_HEADERS.has(headers[i]!)) break;
  if (i >= headers.length) return headers;
  const out: string[] = headers.slice(0, i);
  for (; i < headers.length; i += 2) if (!TRACE_HEADERS.has(headers[i]!)) out.push(headers[i]!, headers[i + 1]!);
  return out;
}
