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

function header(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/** Position and values of the trace reason Envoy's UUID extension packs into x-request-id (the UUID version digit). */
const REASON_AT = 14;
const REASON = { sampled: '9', forced: 'a', client: 'b', none: '4' } as const;

/** A new trace's decision, and the reason to pack into the forwarded x-request-id (undefined = leave it). */
export interface SamplingDecision {
  sampled: boolean;
  pack: string | undefined;
}

/** x-request-id as Envoy's UUID extension reads it: its first 8 hex digits, or undefined when they are not hex. */
function requestIdInteger(id: string): number | undefined {
  if (id.length < 8) return undefined;
  const n = Number.parseInt(id.slice(0, 8), 16);
  return Number.isNaN(n) || !/^[0-9a-fA-F]{8}/.test(id) ? undefined : n;
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

  /**
   * The decision for a request without one from its caller, as Envoy's HCM makes it. With request-id sampling the
   * x-request-id decides: a reason an earlier hop packed into it (sampled, forced, client) stands; otherwise
   * x-client-trace-id (client_sampling), then random_sampling and overall_sampling compared with the id's first 8
   * hex digits mod 10,000 (an id without them is never sampled). A request with no x-request-id yet (the proxy
   * generates it upstream) gets a random draw, which is what deciding from a fresh random id amounts to.
   */
  decide(headers: readonly string[]): SamplingDecision {
    const c = this.config;
    const r = this.deps.random;
    const rid = c.useRequestIdForTraceSampling ? header(headers, 'x-request-id') : undefined;
    if (rid === undefined) {
      let sampled = c.randomSampling >= 100 || (c.randomSampling > 0 && r() * 100 < c.randomSampling);
      let reason: string = REASON.sampled;
      if (!sampled && header(headers, 'x-client-trace-id') !== undefined && (c.clientSampling >= 100 || r() * 100 < c.clientSampling)) {
        sampled = true;
        reason = REASON.client;
      }
      if (sampled && c.overallSampling < 100 && r() * 100 >= c.overallSampling) sampled = false;
      return { sampled, pack: c.useRequestIdForTraceSampling && sampled ? reason : undefined };
    }
    const n = requestIdInteger(rid);
    if (n === undefined) return { sampled: false, pack: undefined };
    const bucket = n % 10_000;
    const within = (percent: number): boolean => bucket < percent * 100;
    const packed = rid.length === 36 ? rid[REASON_AT] : undefined;
    let sampled = packed === REASON.sampled || packed === REASON.forced || packed === REASON.client;
    let pack: string | undefined;
    if (!sampled) {
      if (header(headers, 'x-client-trace-id') !== undefined && (c.clientSampling >= 100 || r() * 100 < c.clientSampling)) [sampled, pack] = [true, REASON.client];
      else if (within(c.randomSampling)) [sampled, pack] = [true, REASON.sampled];
    }
    if (sampled && !within(c.overallSampling)) [sampled, pack] = [false, REASON.none];
    return { sampled, pack: c.packTraceReason ? pack : undefined };
  }

  /** Start the span of a request received with `headers` (flat, lowercase names). */
  start(headers: readonly string[], direction: TraceDirection): ActiveSpan {
    const c = this.config;
    const { parent, sampled: upstream } = extractContext(headers);
    // The HCM decides (and packs its reason into x-request-id) whatever the caller sent; the tracer then follows
    // the caller's decision when there is one.
    const decision = this.decide(headers);
    const sampled = upstream ?? decision.sampled;
    const traceId = parent?.traceId ?? newTraceId(c.provider.kind === 'zipkin' && !c.provider.traceId128);
    const ctx: SpanContext = { traceId, spanId: newSpanId(), sampled, tracestate: parent?.tracestate };
    // Gateways (spawn_upstream_span) are servers for their caller and clients of the upstream; a sidecar's span
    // kind follows the side of the proxy that received the request.
    const kind: SpanKind = c.spawnUpstreamSpan || direction === 'inbound' ? 'SERVER' : 'CLIENT';
    return new ActiveSpan(this, ctx, parent?.spanId, kind, c.spawnUpstreamSpan ? newSpanId() : undefined, headers, decision.pack);
  }
}
