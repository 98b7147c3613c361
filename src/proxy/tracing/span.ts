// One request's span while it is in flight, and the finished record handed to the exporter. The span's context
// goes upstream in the request headers (it is the parent of the next hop's span); tags are taken from the
// request's StreamInfo when it completes, with the names Envoy and Istio give them.
import type { StreamInfo } from '../hcm/stream-info.ts';
import { type PropagationFormat, type SpanContext, TRACE_HEADERS, contextHeaders, stripTraceHeaders } from './context.ts';

export type SpanKind = 'SERVER' | 'CLIENT';

/** A finished span as the exporters encode it. Times are ms since the epoch with sub-ms precision. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKind;
  startEpochMs: number;
  durationMs: number;
  /** Tags every span of its tracer carries (node_id, Istio's, literal and environment custom tags): shared, not copied. */
  fixedTags: ReadonlyArray<readonly [string, string]>;
  /** This span's own tags as flat name/value pairs (one array per span: little to keep while queued). */
  tags: string[];
  error: boolean;
}

/** Every tag of a span, fixed ones first, as [name, value] pairs. */
export function spanTags(s: SpanRecord): Array<[string, string]> {
  const out: Array<[string, string]> = s.fixedTags.map(([k, v]): [string, string] => [k, v]);
  for (let i = 0; i < s.tags.length; i += 2) out.push([s.tags[i]!, s.tags[i + 1]!]);
  return out;
}

/** What a span needs from its tracer when it ends. */
export interface SpanOwner {
  readonly format: PropagationFormat;
  /** Tags with fixed values (node_id, literal and environment custom tags). */
  readonly fixedTags: ReadonlyArray<readonly [string, string]>;
  /** Request-header custom tags: tag, header name, default. */
  readonly headerTags: ReadonlyArray<readonly [string, string, string]>;
  readonly maxPathTagLength: number;
  /** `<canonical service>.<namespace>.svc.cluster.local` from the Istio tags, naming inbound spans; undefined without them. */
  readonly serviceHost: string | undefined;
  record(span: SpanRecord): void;
}

export class ActiveSpan {
  readonly ctx: SpanContext;
  readonly parentSpanId: string | undefined;
  readonly kind: SpanKind;
  /** With spawn_upstream_span: the client span's id (the parent the upstream sees). */
  readonly upstreamSpanId: string | undefined;
  private readonly owner: SpanOwner;
  private readonly startEpochMs: number;
  private readonly startMono: number;
  /** Values of the request headers that tags need, captured at the start (filters may rewrite headers later). */
  private readonly userAgent: string | undefined;
  private readonly headerValues: string[] | undefined;
  /** The trace reason to write into the forwarded x-request-id (Envoy's pack_trace_reason), or undefined. */
  private readonly packReason: string | undefined;
  private ended = false;

  constructor(owner: SpanOwner, ctx: SpanContext, parentSpanId: string | undefined, kind: SpanKind, upstreamSpanId: string | undefined, headers: readonly string[], packReason?: string) {
    this.packReason = packReason;
    this.owner = owner;
    this.ctx = ctx;
    this.parentSpanId = parentSpanId;
    this.kind = kind;
    this.upstreamSpanId = upstreamSpanId;
    this.startMono = performance.now();
    this.startEpochMs = performance.timeOrigin + this.startMono;
    let ua: string | undefined;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'user-agent') ua = headers[i + 1];
    this.userAgent = ua;
    if (owner.headerTags.length > 0) {
      this.headerValues = owner.headerTags.map(([, name, def]) => {
        for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1]!;
        return def;
      });
    }
  }

  get sampled(): boolean {
    return this.ctx.sampled === true;
  }

  /**
   * The x-request-id to forward: with a packed reason, a UUID-shaped id (36 characters) carries the decision in its
   * version digit, as Envoy writes it (`…-9xxx-…` sampled, `b` client, `a` forced, `4` not), so the next hop that
   * samples by request id follows it; any other id is forwarded unchanged.
   */
  requestId(id: string): string {
    const r = this.packReason;
    if (r === undefined || id.length !== 36 || id[14] === r) return id;
    return `${id.slice(0, 14)}${r}${id.slice(15)}`;
  }

  /** The headers that carry this span's context upstream, `[name, value, …]`. */
  contextHeaders(): string[] {
    const upstream = this.upstreamSpanId === undefined ? this.ctx : { ...this.ctx, spanId: this.upstreamSpanId };
    return contextHeaders(this.owner.format, upstream, this.upstreamSpanId === undefined ? this.parentSpanId : this.ctx.spanId);
  }

  /** The context headers as HTTP/1.1 header lines. */
  headerLines(): string {
    const h = this.contextHeaders();
    let s = '';
    for (let i = 0; i < h.length; i += 2) s += `${h[i]!}: ${h[i + 1]!}\r\n`;
    return s;
  }

  /** Replace the caller's trace headers in an HTTP/2 header object with this span's. */
  injectInto(out: Record<string, unknown>): void {
    for (const name of TRACE_HEADERS) if (name in out) delete out[name];
    const h = this.contextHeaders();
    for (let i = 0; i < h.length; i += 2) out[h[i]!] = h[i + 1]!;
  }

  /** Request headers without the caller's trace headers (this span's replace them). */
  strip(headers: string[]): string[] {
    return stripTraceHeaders(headers);
  }

  /** Finish the span from what the request did; a span is reported once, and only when sampled. */
  end(info: StreamInfo): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.sampled) return;
    const durationMs = performance.now() - this.startMono;
    const o = this.owner;
    const status = info.status;
    const error = status === 0 || status >= 500;
    let url = `http://${info.authority}${info.path}`;
    if (url.length > o.maxPathTagLength) url = url.slice(0, o.maxPathTagLength);
    const peer = info.downstreamRemote;
    const cluster = info.upstreamCluster ?? '-';
    const tags = [
      'component', 'proxy',
      'guid:x-request-id', info.requestId ?? '',
      'http.url', url,
      'http.method', info.method,
      'http.protocol', info.protocol,
      'downstream_cluster', '-',
      'user_agent', this.userAgent ?? '-',
      'peer.address', peer.slice(0, Math.max(0, peer.lastIndexOf(':'))) || peer,
      'request_size', String(info.bytesReceived),
      'response_size', String(info.bytesSent),
      'upstream_cluster', cluster,
      'upstream_cluster.name', cluster,
      'http.status_code', String(status),
      'response_flags', info.flagString,
    ];
    if (info.upstreamHost !== undefined) tags.push('upstream_address', info.upstreamHost);
    if (this.headerValues) o.headerTags.forEach(([tag], i) => tags.push(tag, this.headerValues![i]!));
    if (error) tags.push('error', 'true');
    const name = operationName(info, o.serviceHost);
    const base = { traceId: this.ctx.traceId, name, startEpochMs: this.startEpochMs, durationMs, error };
    o.record({ ...base, spanId: this.ctx.spanId, parentSpanId: this.parentSpanId, kind: this.kind, fixedTags: o.fixedTags, tags });
    if (this.upstreamSpanId !== undefined && info.upstreamCluster !== undefined) {
      const upstreamTags = ['component', 'proxy', 'upstream_cluster', info.upstreamCluster, 'upstream_address', info.upstreamHost ?? '-', 'http.status_code', String(status)];
      if (error) upstreamTags.push('error', 'true');
      o.record({ ...base, spanId: this.upstreamSpanId, parentSpanId: this.ctx.spanId, kind: 'CLIENT', fixedTags: o.fixedTags, tags: upstreamTags });
    }
  }
}

/**
 * The span name, as Istio's route decorators name it: `<service host>:<port>/*`. Outbound, from the cluster
 * (`outbound|9080||reviews.default.svc.cluster.local` → `reviews.default.svc.cluster.local:9080/*`); inbound, this
 * workload's service with the port the caller addressed (`reviews:9080`), else the inbound cluster's port; otherwise
 * the request's authority.
 */
function operationName(info: StreamInfo, serviceHost: string | undefined): string {
  const c = info.upstreamCluster;
  if (c !== undefined && c.startsWith('outbound|')) {
    const parts = c.split('|');
    if (parts.length === 4 && parts[3] !== '') return `${parts[3]!}:${parts[1]!}/*`;
  }
  if (c !== undefined && c.startsWith('inbound|') && serviceHost !== undefined) {
    const a = info.authority;
    const colon = a.lastIndexOf(':');
    const host = colon > 0 ? a.slice(0, colon) : a;
    const svc = serviceHost.slice(0, serviceHost.indexOf('.'));
    const port = colon > 0 && (host === svc || serviceHost.startsWith(`${host}.`) || host === serviceHost) ? a.slice(colon + 1) : c.split('|')[1];
    return `${serviceHost}:${port}/*`;
  }
  return `${info.authority}/*`;
}
