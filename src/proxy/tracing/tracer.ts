// One HCM's tracer: decides per request whether to continue the caller's trace or start one, whether it is sampled
// (the caller's decision wins; otherwise random_sampling, with client_sampling for x-client-trace-id and
// overall_sampling as a cap, as Envoy does), and hands finished spans to its provider's batch exporter.
import type { CustomTagConfig, TracingConfig } from './config.ts';
import { type PropagationFormat, type SpanContext, extractContext } from './context.ts';
import { newSpanId, newTraceId } from './ids.ts';
import { ActiveSpan, type SpanKind, type SpanOwner, type SpanRecord } from './span.ts';

/** Where a request was received: the sidecar's outbound side makes client spans, the inbound side server spans. */
export type TraceDirection = 'inbound' | 'outbound';

export interface TracerDeps {
  /** Receives sampled spans (the provider's batch exporter). */
  record(span: SpanRecord): void;
  /** Uniform in [0, 1). */
  random(): number;
  /** Fixed tags of every span: node_id, plus the config's literal and environment tags (resolved by the caller). */
  fixedTags: ReadonlyArray<readonly [string, string]>;
}

/** Literal and environment custom tags as fixed values; `env` reads the proxy's environment. */
export function fixedCustomTags(tags: readonly CustomTagConfig[], env: (name: string) => string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const t of tags) {
    if (t.kind === 'literal') out.push([t.tag, t.value]);
    else if (t.kind === 'environment') out.push([t.tag, env(t.name) ?? t.defaultValue]);
  }
  return out;
}

function hasHeader(headers: readonly string[], name: string): boolean {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
}

export class Tracer implements SpanOwner {
  readonly config: TracingConfig;
  readonly format: PropagationFormat;
  readonly fixedTags: ReadonlyArray<readonly [string, string]>;
  readonly headerTags: ReadonlyArray<readonly [string, string, string]>;
  readonly maxPathTagLength: number;
  readonly serviceHost: string | undefined;
  private readonly deps: TracerDeps;

  constructor(config: TracingConfig, deps: TracerDeps) {
    this.config = config;
    this.deps = deps;
    this.format = config.provider.kind === 'zipkin' ? 'b3' : 'w3c';
    this.fixedTags = deps.fixedTags;
    this.headerTags = config.customTags.flatMap((t) => (t.kind === 'header' ? [[t.tag, t.name, t.defaultValue] as const] : []));
    this.maxPathTagLength = config.maxPathTagLength;
    const tag = (k: string): string | undefined => deps.fixedTags.find(([n]) => n === k)?.[1];
    const svc = tag('istio.canonical_service');
    const ns = tag('istio.namespace');
    this.serviceHost = svc && ns && svc !== 'unknown' ? `${svc}.${ns}.svc.cluster.local` : undefined;
  }

  record(span: SpanRecord): void {
    this.deps.record(span);
  }

  /** The sampling decision for a request without one from its caller. */
  private decide(headers: readonly string[]): boolean {
    const c = this.config;
    const r = this.deps.random;
    let sampled = c.randomSampling >= 100 || (c.randomSampling > 0 && r() * 100 < c.randomSampling);
    if (!sampled && hasHeader(headers, 'x-client-trace-id')) sampled = c.clientSampling >= 100 || r() * 100 < c.clientSampling;
    return sampled;
  }

  /** Start the span of a request received with `headers` (flat, lowercase names). */
  start(headers: readonly string[], direction: TraceDirection): ActiveSpan {
    const c = this.config;
    const { parent, sampled: upstream } = extractContext(headers);
    let sampled = upstream ?? this.decide(headers);
    if (sampled && c.overallSampling < 100 && this.deps.random() * 100 >= c.overallSampling) sampled = false;
    const traceId = parent?.traceId ?? newTraceId(c.provider.kind === 'zipkin' && !c.provider.traceId128);
    const ctx: SpanContext = { traceId, spanId: newSpanId(), sampled, tracestate: parent?.tracestate };
    // Gateways (spawn_upstream_span) are servers for their caller and clients of the upstream; a sidecar's span
    // kind follows the side of the proxy that received the request.
    const kind: SpanKind = c.spawnUpstreamSpan || direction === 'inbound' ? 'SERVER' : 'CLIENT';
    return new ActiveSpan(this, ctx, parent?.spanId, kind, c.spawnUpstreamSpan ? newSpanId() : undefined, headers);
  }
}
