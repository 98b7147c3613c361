// Istio's standard request metrics (istio_requests_total, istio_request_duration_milliseconds, request/response
// bytes) with Istio's label set. The hot path is cheap: the labels that depend on the peer are rendered once per
// scope (a destination host or cluster) and cached; per request only response_code and response_flags vary,
// looked up in a small map on the scope. Rendering to Prometheus text happens only when scraped.

/** Identity of this proxy's workload, from node metadata (labels, namespace, service account). */
export interface WorkloadInfo {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  canonicalService: string;
  canonicalRevision: string;
  principal: string;
  cluster: string;
}

export const unknownWorkload: WorkloadInfo = {
  workload: 'unknown', namespace: 'unknown', app: 'unknown', version: 'unknown',
  canonicalService: 'unknown', canonicalRevision: 'latest', principal: 'unknown', cluster: 'unknown',
};

/** Istio's default duration buckets (ms). */
const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
const BYTE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

class Histogram {
  readonly counts: Float64Array;
  readonly bounds: readonly number[];
  sum = 0;
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }
  observe(v: number): void {
    this.sum += v;
    // Non-cumulative here (one increment); cumulated when rendered.
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

class Series {
  count = 0;
  readonly duration = new Histogram(BUCKETS);
  readonly requestBytes = new Histogram(BYTE_BUCKETS);
  readonly responseBytes = new Histogram(BYTE_BUCKETS);
  readonly labels: string;
  constructor(labels: string) {
    this.labels = labels;
  }
}

/** The label values that do not change per request for one peer. */
export interface ScopeLabels {
  reporter: 'source' | 'destination';
  source: WorkloadInfo;
  destination: WorkloadInfo;
  destinationService: string;
  destinationServiceName: string;
  destinationServiceNamespace: string;
  requestProtocol: string;
  connectionSecurityPolicy: string;
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Istio's TCP metrics for one label set: connections opened and closed, bytes each way. */
export class TcpSeries {
  opened = 0;
  closed = 0;
  /** Bytes sent to the downstream (istio_tcp_sent_bytes_total: server → client). */
  sent = 0;
  /** Bytes received from the downstream (istio_tcp_received_bytes_total). */
  received = 0;
  readonly labels: string;
  constructor(labels: string) {
    this.labels = labels;
  }
}

export class MetricScope {
  private readonly before: string;
  /** `before` without its request_protocol label (TCP series say "tcp"). */
  private readonly beforeTcp: string;
  private readonly tcpSeries = new Map<string, TcpSeries>();
  private readonly after: string;
  private readonly series = new Map<string, Series>();
  private readonly owner: IstioMetrics;

  constructor(owner: IstioMetrics, l: ScopeLabels) {
    this.owner = owner;
    const s = l.source;
    const d = l.destination;
    this.before =
      `reporter="${l.reporter}",source_workload="${esc(s.workload)}",source_canonical_service="${esc(s.canonicalService)}",` +
      `source_canonical_revision="${esc(s.canonicalRevision)}",source_workload_namespace="${esc(s.namespace)}",` +
      `source_principal="${esc(s.principal)}",source_app="${esc(s.app)}",source_version="${esc(s.version)}",source_cluster="${esc(s.cluster)}",` +
      `destination_workload="${esc(d.workload)}",destination_workload_namespace="${esc(d.namespace)}",` +
      `destination_principal="${esc(d.principal)}",destination_app="${esc(d.app)}",destination_version="${esc(d.version)}",` +
      `destination_service="${esc(l.destinationService)}",destination_canonical_service="${esc(d.canonicalService)}",` +
      `destination_canonical_revision="${esc(d.canonicalRevision)}",destination_service_name="${esc(l.destinationServiceName)}",` +
      `destination_service_namespace="${esc(l.destinationServiceNamespace)}",destination_cluster="${esc(d.cluster)}",` +
      `request_protocol="${l.requestProtocol}",`;
    this.beforeTcp = this.before.slice(0, this.before.lastIndexOf('request_protocol=')) + 'request_protocol="tcp",';
    this.after = `,connection_security_policy="${l.connectionSecurityPolicy}"`;
  }

  /** The TCP series for connections that ended with these response flags (`-` when none). */
  tcp(flags: string): TcpSeries {
    let s = this.tcpSeries.get(flags);
    if (!s) {
      s = new TcpSeries(`${this.beforeTcp}response_flags="${flags}"${this.after}`);
      this.tcpSeries.set(flags, s);
      this.owner.allTcp.push(s);
    }
    return s;
  }

  record(code: number, flags: string, durationMs: number, requestBytes: number, responseBytes: number): void {
    const key = flags === '-' ? code : `${code}|${flags}`;
    let s = this.series.get(key as string);
    if (!s) {
      s = new Series(`${this.before}response_code="${code}",grpc_response_status="",response_flags="${flags}"${this.after}`);
      this.series.set(key as string, s);
      this.owner.all.push(s);
    }
    s.count++;
    s.duration.observe(durationMs);
    s.requestBytes.observe(requestBytes);
    s.responseBytes.observe(responseBytes);
  }
}

export class IstioMetrics {
  /** Every series ever created, in creation order (bounded by scopes × codes × flags). */
  readonly all: Series[] = [];
  /** Every TCP series ever created (bounded by scopes × flags). */
  readonly allTcp: TcpSeries[] = [];

  scope(labels: ScopeLabels): MetricScope {
    return new MetricScope(this, labels);
  }

  /** Prometheus text exposition (format 0.0.4). */
  render(): string {
    const out: string[] = [];
    out.push('# TYPE istio_requests_total counter');
    for (const s of this.all) out.push(`istio_requests_total{${s.labels}} ${s.count}`);
    renderHistogram(out, 'istio_request_duration_milliseconds', this.all, (s) => s.duration);
    renderHistogram(out, 'istio_request_bytes', this.all, (s) => s.requestBytes);
    renderHistogram(out, 'istio_response_bytes', this.all, (s) => s.responseBytes);
    if (this.allTcp.length > 0) {
      const counter = (name: string, pick: (s: TcpSeries) => number): void => {
        out.push(`# TYPE ${name} counter`);
        for (const s of this.allTcp) out.push(`${name}{${s.labels}} ${pick(s)}`);
      };
      counter('istio_tcp_connections_opened_total', (s) => s.opened);
      counter('istio_tcp_connections_closed_total', (s) => s.closed);
      counter('istio_tcp_sent_bytes_total', (s) => s.sent);
      counter('istio_tcp_received_bytes_total', (s) => s.received);
    }
    return out.join('\n') + '\n';
  }
}

function renderHistogram(out: string[], name: string, all: Series[], pick: (s: Series) => Histogram): void {
  out.push(`# TYPE ${name} histogram`);
  for (const s of all) {
    const h = pick(s);
    let cumulative = 0;
    h.bounds.forEach((b, i) => {
      cumulative += h.counts[i]!;
      out.push(`${name}_bucket{${s.labels},le="${b}"} ${cumulative}`);
    });
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${s.count}`);
    out.push(`${name}_sum{${s.labels}} ${h.sum}`);
    out.push(`${name}_count{${s.labels}} ${s.count}`);
  }
}

/** Parse Istio's endpoint metadata `istio.workload` = `name;namespace;canonical service;revision;cluster`. */
export function workloadFromMetadata(value: string | undefined): WorkloadInfo {
  if (!value) return unknownWorkload;
  const [name, ns, svc, rev, cluster] = value.split(';');
  return {
    workload: name || 'unknown',
    namespace: ns || 'unknown',
    app: svc || 'unknown',
    version: rev || 'unknown',
    canonicalService: svc || 'unknown',
    canonicalRevision: rev || 'latest',
    principal: 'unknown',
    cluster: cluster || 'unknown',
  };
}
