// What a downstream connection needs from the running proxy, as one narrow interface (so the HTTP connection
// manager does not depend on the engine, the xDS client or the admin server).
import type { AccessLog } from '../access-log/access-log.ts';
import type { Cluster, ClusterManager } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';
import type { ProxySnapshot } from '../config/snapshot.ts';
import type { MetricScope } from '../stats/istio-metrics.ts';
import type { StatStore } from '../stats/stat-store.ts';
import type { SecretStore } from '../tls/secrets.ts';
import type { TracingHost } from '../tracing/host.ts';

export type Direction = 'outbound' | 'inbound';

export interface ProxyServices {
  /** The current compiled config; replaced atomically on every accepted xDS update. */
  readonly snapshot: ProxySnapshot;
  readonly clusters: ClusterManager;
  readonly accessLog: AccessLog | undefined;
  /** Workload TLS secrets (SDS default/ROOTCA), when the proxy has an identity. */
  readonly secrets: SecretStore | undefined;
  /** Trace spans: HCMs with a `tracing` config start one per request (src/proxy/tracing). */
  readonly tracing: TracingHost;
  /** Named counters (Envoy's /stats): codecs count their rejections here, e.g. `http2.header_overflow`. */
  readonly state: { readonly stats: StatStore };
  /** True while draining (SIGTERM): responses carry `connection: close`. */
  readonly draining: boolean;
  random(): number;
  /** The metric scope (pre-rendered labels) for requests in this direction to this cluster/host. */
  metricScope(direction: Direction, clusterName: string, cluster: Cluster | undefined, host: Host | undefined, peer?: string): MetricScope;
  /** Operational log (bugs caught on the request path are reported here, never thrown). */
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Connection accounting: drain closes idle keep-alive connections; a periodic sweep enforces idle timeouts. */
  track(socket: import('node:net').Socket, conn?: TrackedConnection): void;
}

/** What the engine can ask of a downstream connection it tracks. */
export interface TrackedConnection {
  /** Close now if no request is in flight (drain). */
  closeIfIdle(): void;
  /** Enforce idle timeouts at time `now` (performance.now()). */
  sweep(now: number): void;
}
