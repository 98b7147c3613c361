// Zipkin v2 JSON export (POST <collector_endpoint>, default /api/v2/spans, application/json), as Envoy's Zipkin
// tracer sends with collector_endpoint_version HTTP_JSON: one JSON array of spans, times in microseconds.
import type { SpanSink } from '../exporter.ts';
import { type Endpoint, newPool, post } from '../http-post.ts';
import { type SpanRecord, spanTags } from '../span.ts';

/** A span in Zipkin's v2 model (zipkin2 JSON). */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: 'CLIENT' | 'SERVER';
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName: string };
  tags: Record<string, string>;
  shared?: boolean;
}

/** The Zipkin service name of a span: Istio's `<canonical service>.<namespace>` from its tags, else `istio-proxy`. */
function serviceOf(tags: ReadonlyArray<readonly [string, string]>): string {
  let svc: string | undefined;
  let ns: string | undefined;
  for (const [k, v] of tags) {
    if (k === 'istio.canonical_service') svc = v;
    else if (k === 'istio.namespace') ns = v;
  }
  return svc ? (ns ? `${svc}.${ns}` : svc) : 'istio-proxy';
}

export function toZipkin(s: SpanRecord, traceId128: boolean): ZipkinSpan {
  const traceId = !traceId128 && s.traceId.startsWith('0000000000000000') ? s.traceId.slice(16) : s.traceId;
  const out: ZipkinSpan = {
    traceId,
    id: s.spanId,
    name: s.name,
    kind: s.kind,
    timestamp: Math.round(s.startEpochMs * 1000),
    duration: Math.max(1, Math.round(s.durationMs * 1000)),
    localEndpoint: { serviceName: serviceOf(s.fixedTags) },
    tags: Object.fromEntries(spanTags(s)),
  };
  if (s.parentSpanId !== undefined) out.parentId = s.parentSpanId;
  return out;
}

export function zipkinSink(o: { resolve: () => Endpoint | undefined; cluster: string; host: string; path: string; traceId128: boolean }): SpanSink {
  const pool = newPool();
  return {
    send(spans) {
      const target = o.resolve();
      if (!target) return Promise.reject(new Error(`no healthy endpoint in cluster ${o.cluster}`));
      const body = Buffer.from(JSON.stringify(spans.map((s) => toZipkin(s, o.traceId128))));
      return post(pool, target, o.host, o.path, 'application/json', body, [], 5000);
    },
    close() {
      pool.destroy();
    },
  };
}
