// What is known about one request when it completes, as Envoy's StreamInfo: timings, bytes, the upstream chosen,
// the response flags and details. Filled in by the stream, read by the access log and the metrics.
import type { ActiveSpan } from '../tracing/span.ts';

/** Envoy response flags that this proxy sets. */
export type ResponseFlag =
  | 'UH' // no healthy upstream
  | 'UF' // upstream connection failure
  | 'UO' // upstream overflow (circuit breaker)
  | 'NR' // no route
  | 'NC' // no cluster
  | 'URX' // upstream retry limit exceeded
  | 'UC' // upstream connection termination
  | 'UT' // upstream request timeout
  | 'UPE' // upstream protocol error
  | 'DC' // downstream connection termination
  | 'DPE' // downstream protocol error
  | 'DI' // delay injected by the fault filter
  | 'FI' // aborted by the fault filter
  | 'SI' // stream idle timeout
  | 'RBAC' // denied by an RBAC policy
  | 'UAEX'; // denied by the external authorization service

/** The order in which Envoy prints flags (its ResponseFlag enum), so `response_flags` labels and log lines match Envoy's. */
const FLAG_ORDER: readonly ResponseFlag[] = ['UH', 'UT', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'DC', 'URX', 'SI', 'DPE', 'UPE', 'NC'];

export class StreamInfo {
  /** Wall clock at the start (ms since epoch) and a monotonic start (performance.now()). */
  startEpochMs = 0;
  startMono = 0;
  durationMs = 0;
  method = '-';
  /** Original path as received (before rewrites). */
  path = '-';
  protocol = 'HTTP/1.1';
  status = 0;
  flags = '';
  details = '-';
  bytesReceived = 0;
  bytesSent = 0;
  upstreamServiceTimeMs = -1;
  xff: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
  authority = '-';
  upstreamHost: string | undefined;
  upstreamCluster: string | undefined;
  routeName: string | undefined;
  downstreamLocal = '-';
  downstreamRemote = '-';
  attempts = 0;
  /** The request's trace span, when its connection manager traces (src/proxy/tracing). */
  span: ActiveSpan | undefined;

  /** Adds a flag; the list stays in Envoy's order (UF before URX …) whatever order the stream found them in. */
  addFlag(f: ResponseFlag): void {
    if (this.flags === '') this.flags = f;
    else if (!this.flags.split(',').includes(f)) this.flags = [...this.flags.split(','), f].sort((a, b) => FLAG_ORDER.indexOf(a as ResponseFlag) - FLAG_ORDER.indexOf(b as ResponseFlag)).join(',');
  }

  /** Flags as Envoy prints them: comma-separated, `-` when none. */
  get flagString(): string {
    return this.flags === '' ? '-' : this.flags;
  }
}
