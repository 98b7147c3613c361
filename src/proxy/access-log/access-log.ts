// Access log in Istio's default text format (Envoy's default plus response code details, upstream cluster and
// addresses) or as JSON with the same fields. Lines are batched and written once per event-loop turn.
import type { Writable } from 'node:stream';
import type { StreamInfo } from '../hcm/stream-info.ts';

export type AccessLogEncoding = 'text' | 'json';

const q = (v: string | undefined): string => (v === undefined || v === '' ? '-' : v);

/** One line in Istio's default TEXT format (meshConfig.accessLogFormat unset). */
export function formatText(s: StreamInfo): string {
  const upstreamTime = s.upstreamServiceTimeMs < 0 ? '-' : String(s.upstreamServiceTimeMs);
  return (
    `[${new Date(s.startEpochMs).toISOString()}] "${s.method} ${s.path} ${s.protocol}" ${s.status} ${s.flagString} ${q(s.details)} - "-" ` +
    `${s.bytesReceived} ${s.bytesSent} ${Math.round(s.durationMs)} ${upstreamTime} "${q(s.xff)}" "${q(s.userAgent)}" "${q(s.requestId)}" ` +
    `"${q(s.authority)}" "${q(s.upstreamHost)}" ${q(s.upstreamCluster)} - ${s.downstreamLocal} ${s.downstreamRemote} - ${q(s.routeName)}\n`
  );
}

/** The same fields as JSON, with Istio's JSON key names. */
export function formatJson(s: StreamInfo): string {
  return (
    JSON.stringify({
      start_time: new Date(s.startEpochMs).toISOString(),
      method: s.method,
      path: s.path,
      protocol: s.protocol,
      response_code: s.status,
      response_flags: s.flagString,
      response_code_details: q(s.details),
      bytes_received: s.bytesReceived,
      bytes_sent: s.bytesSent,
      duration: Math.round(s.durationMs),
      upstream_service_time: s.upstreamServiceTimeMs < 0 ? null : String(s.upstreamServiceTimeMs),
      x_forwarded_for: s.xff ?? null,
      user_agent: s.userAgent ?? null,
      request_id: s.requestId ?? null,
      authority: s.authority,
      upstream_host: s.upstreamHost ?? null,
      upstream_cluster: s.upstreamCluster ?? null,
      downstream_local_address: s.downstreamLocal,
      downstream_remote_address: s.downstreamRemote,
      route_name: s.routeName ?? null,
    }) + '\n'
  );
}

export class AccessLog {
  private readonly out: Writable;
  private readonly encoding: AccessLogEncoding;
  private buffer = '';
  private scheduled = false;

  constructor(out: Writable, encoding: AccessLogEncoding) {
    this.out = out;
    this.encoding = encoding;
  }

  log(s: StreamInfo): void {
    this.buffer += this.encoding === 'json' ? formatJson(s) : formatText(s);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.buffer === '') return;
    const b = this.buffer;
    this.buffer = '';
    this.out.write(b);
  }
}
