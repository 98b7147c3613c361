// TCP proxy (Envoy tcp_proxy): connect the downstream socket to a host of the cluster and pipe bytes both ways.
// Also used for explicit-mode CONNECT tunnels once the upstream connection is up.
import * as net from 'node:net';
import type { ProxyServices } from '../hcm/services.ts';

export function proxyTcp(socket: net.Socket, clusterName: string, services: ProxyServices, destination?: string): void {
  const cluster = services.clusters.get(clusterName);
  const host = cluster?.choose(performance.now(), () => services.random(), destination);
  if (!cluster || !host) {
    socket.destroy();
    return;
  }
  services.track(socket);
  const upstream = net.connect({ host: host.address, port: host.port, noDelay: true });
  const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), cluster.config.connectTimeoutMs);
  upstream.once('connect', () => clearTimeout(timer));
  pipeBoth(socket, upstream);
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
