// The request headers the Bookinfo services copy from an incoming request onto their outbound calls, as Istio's
// sample does: the proxies create spans, but only the app can tie an inbound request to the calls it causes.
import type { IncomingHttpHeaders } from 'node:http';

/** Tracing headers of every propagation format Istio supports (Envoy/Zipkin B3, W3C, Datadog, Lightstep, SkyWalking, Stackdriver). */
export const TRACE_HEADERS = [
  'x-request-id', // Istio's access logs and consistent sampling key on it
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-ot-span-context',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'sw8',
] as const;

/** Context and session headers the sample forwards too (user-agent drives some routing examples). */
export const CONTEXT_HEADERS = ['user-agent', 'cookie', 'authorization', 'jwt'] as const;

/** What details and reviews forward: they pass `end-user` on, where productpage sets it from its session. */
export const BACKEND_FORWARDED = [...TRACE_HEADERS, 'end-user', ...CONTEXT_HEADERS] as const;

/** What productpage forwards; `end-user` comes from the signed-in session, never from the client. */
export const FRONTEND_FORWARDED = [...TRACE_HEADERS, ...CONTEXT_HEADERS] as const;

/** Copy the named headers that are present on `incoming`; repeated headers are joined as HTTP allows. */
export function forwardHeaders(incoming: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = incoming[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
