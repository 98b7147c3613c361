// TCP proxy (Envoy tcp_proxy): connect the downstream socket to a host of the cluster (one of the weighted clusters,
// picked per connection) and pipe bytes both ways, with TLS origination when the host's transport socket asks for it
// (ISTIO_MUTUAL between sidecars). Each connection is counted in Istio's TCP metrics. Also used for the inbound
// tcp_proxy chains of virtualInbound, over plaintext or the terminated mutual TLS session.
import * as net from 'node:net';
import type { Host } from '../cluster/host.ts';
import type { ProxyServices, Direction } from '../hcm/services.ts';
import type { TcpSeries } from '../stats/istio-metrics.ts';
import { connectUpstreamTls, tlsConnectOptions } from '../tls/upstream-tls.ts';
import { pickTcpCluster, type TcpAction } from './listener-config.ts';

/** Where a proxied connection came from: direction for metrics, the mTLS peer's SPIFFE id on inbound. */
export interface TcpOrigin {
  direction: Direction;
  peer?: string | undefined;
  /** `host:port` for ORIGINAL_DST / passthrough clusters. */
  destination?: string | undefined;
}

/** Open a connection to `host`, over TLS when its transport socket says so. Emits 'ready' once usable. */
export function connectHost(host: Host, connectTimeoutMs: number): { socket: net.Socket; readyEvent: 'connect' | 'secureConnect'; timer: NodeJS.Timeout } {
  const opts = host.tls ? tlsConnectOptions(host.tls, host.secrets) : undefined;
  let socket: net.Socket;
  if (typeof opts === 'string') {
    socket = new net.Socket();
    setImmediate(() => socket.destroy(new Error(opts)));
  } else socket = opts ? connectUpstreamTls(opts, host.address, host.port) : net.connect({ host: host.address, port: host.port, noDelay: true });
  if (opts && typeof opts !== 'string') socket.setNoDelay(true);
  const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), connectTimeoutMs);
  return { socket, readyEvent: opts && typeof opts !== 'string' ? 'secureConnect' : 'connect', timer };
}

export function proxyTcp(socket: net.Socket, target: TcpAction | string, services: ProxyServices, origin: TcpOrigin = { direction: 'outbound' }): void {
  // envoy.filters.network.rbac (Istio's TCP authorization) decides once, before any byte goes upstream.
  if (typeof target !== 'string' && target.rbac) {
    const decision = target.rbac.run({
      sourceIp: socket.remoteAddress ?? '',
      destinationPort: socket.localPort ?? 0,
      ...(socket.localAddress ? { destinationIp: socket.localAddress } : {}),
      ...(origin.peer ? { peerPrincipal: origin.peer.startsWith('spiffe://') ? origin.peer : `spiffe://${origin.peer}` } : {}),
    });
    if (!decision.allowed) {
      socket.destroy();
      return;
    }
  }
  const clusterName = typeof target === 'string' ? target : pickTcpCluster(target, () => services.random());
  const cluster = services.clusters.get(clusterName);
  const host = cluster?.choose(performance.now(), () => services.random(), origin.destination);
  const metrics = services.metricScope(origin.direction, clusterName, cluster, host, origin.peer);
  if (!cluster || !host) {
    const t = metrics.tcp(cluster ? 'UH' : 'NC');
    t.opened++;
    t.closed++;
    socket.destroy();
    return;
  }
  services.track(socket);
  host.active++;
  cluster.active++;
  cluster.stats.rqTotal++;
  const { socket: upstream, readyEvent, timer } = connectHost(host, cluster.config.connectTimeoutMs);
  // Counted once the upstream connection is up ("-"), or as a failed connection (UF) if it never comes up.
  let series: TcpSeries | undefined;
  // Bytes the client sent while the upstream connection was being set up (piped once it is).
  let early = 0;
  upstream.once(readyEvent, () => {
    clearTimeout(timer);
    series = metrics.tcp('-');
    series.opened++;
    series.received += early;
  });
  upstream.on('data', (d: Buffer) => {
    if (series) series.sent += d.length;
  });
  socket.on('data', (d: Buffer) => {
    if (series) series.received += d.length;
    else early += d.length;
  });
  upstream.once('close', () => {
    clearTimeout(timer);
    if (!series) {
      cluster.stats.cxConnectFail++;
      series = metrics.tcp('UF');
      series.opened++;
      series.received += early;
    }
    host.active--;
    cluster.active--;
    series.closed++;
  });
  pipeBoth(socket, upstream);
  // tcp_proxy idle_timeout: every byte either way passes through the downstream socket (read or written), so its
  // inactivity is the connection pair's.
  const idleMs = typeof target === 'string' ? 0 : target.idleTimeoutMs;
  if (idleMs > 0) {
    socket.setTimeout(idleMs, () => {
      socket.destroy();
      upstream.destroy();
    });
  }
}

/** Pipe two sockets into each other with backpressure; either side closing closes the other. */
export function pipeBoth(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}
