// The upstream side of one attempt, whatever protocol the cluster speaks: a pooled HTTP/1.1 connection
// (cluster/upstream-connection.ts) or a stream on a pooled HTTP/2 session (./h2-exchange.ts). Both take the request
// as HTTP/1.1 bytes on `socket` and report the response through UpstreamHandler, so the HTTP/1.1 stream and the
// mirror need no protocol branches. acquireLink() picks the protocol as Envoy's HttpProtocolOptions say:
// explicit HTTP/2 (Istio: http2/grpc ports, DestinationRule or MeshConfig h2UpgradePolicy UPGRADE), the
// downstream's protocol (use_downstream_protocol_config), else HTTP/1.1. Upgrades (WebSocket) stay on HTTP/1.1.
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';
import type { UpstreamHandler } from '../cluster/upstream-connection.ts';
import { H2Exchange } from './h2-exchange.ts';
import { h2Pool } from './h2-pool.ts';

/** The part of a socket that request writers use. */
export interface LinkSocket {
  write(data: string | Uint8Array, encoding?: BufferEncoding): boolean;
  cork(): void;
  uncork(): void;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  end(): unknown;
  readonly writableLength: number;
}

/** One attempt's upstream: an UpstreamConnection satisfies this as it is. */
export interface UpstreamLink {
  readonly socket: LinkSocket;
  readonly parser: { readonly isPaused: boolean; tunnel(): Buffer | undefined };
  readonly closed: boolean;
  /** Requests carried so far on this connection (1 for an HTTP/2 stream: never a stale pooled connection). */
  readonly requests: number;
  /** Response bytes seen for the current request. */
  readonly responseBytes: number;
  attach(handler: UpstreamHandler, method: string): void;
  detach(reusable: boolean): void;
}

/** What the downstream request is: HTTP/1.1, HTTP/2, or an HTTP/1.1 upgrade (always HTTP/1.1 upstream). */
export type DownstreamKind = 'http1' | 'http2' | 'upgrade';

/** Whether requests of this kind go to the cluster over HTTP/2. */
export function usesH2(cluster: Cluster, kind: DownstreamKind): boolean {
  if (kind === 'upgrade') return false;
  const p = cluster.config.upstreamProtocol;
  return p === 'http2' || (p === 'downstream' && kind === 'http2');
}

/**
 * An upstream for one attempt on `host`: an idle or new HTTP/1.1 connection, or a stream on an HTTP/2 session with
 * a free slot; undefined when the cluster's max_connections is reached (the caller waits as a pending request).
 */
export function acquireLink(host: Host, cluster: Cluster, kind: DownstreamKind): { conn: UpstreamLink } | undefined {
  if (!usesH2(cluster, kind)) return host.acquire();
  const pool = h2Pool(host);
  pool.maxStreams = cluster.config.h2MaxConcurrentStreams;
  const ps = pool.take();
  if (ps === undefined) return undefined;
  return { conn: typeof ps === 'string' ? new H2Exchange(undefined, ps) : new H2Exchange(ps) };
}
