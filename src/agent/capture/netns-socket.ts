// Sockets inside a workload's network namespace, owned by a process that stays in the host's namespace.
// This lets the sidecar keep the host's network (the control plane and peers on 127.0.0.0/8 stay reachable,
// the DNS proxy's upstreams too) while its capture listeners (15001, 15006, 15053) and its deliveries to the
// app live in the workload's namespace, where the iptables rules send the app's traffic. The addon creates the
// socket in the namespace (setns around socket()); a socket keeps its namespace for life, so Node then uses it
// as any other.

import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, Socket } from 'node:net';
import type { Server } from 'node:net';
import { WeftError } from '../../core/errors.ts';
import { requireAddon } from './addon.ts';

/** The handle `ip netns add` creates for a named namespace. */
export function netnsPath(netns: string): string {
  return `/run/netns/${netns}`;
}

/** Options of every socket made in a namespace. */
export interface NamespaceSocketOptions {
  /**
   * Create the socket with this GID (as iptables' `-m owner --gid-owner` sees it), e.g. the proxy's 1337, so
   * that the capture rules treat its traffic as the proxy's. Default: this process's GID.
   */
  readonly ownerGid?: number;
}

function socketIn(netns: string, udp: boolean, host: string | null, port: number, opts: NamespaceSocketOptions, family?: 4 | 6): number {
  const fam = family ?? (host !== null && isIPv6(host) ? 6 : 4);
  try {
    return requireAddon().socketInNetns(netnsPath(netns), fam, udp, host, port, opts.ownerGid ?? -1);
  } catch (e) {
    if (e instanceof WeftError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new WeftError('WEFT_ERR_IO', `cannot open a socket in network namespace ${netns} (${host ?? '*'}:${port}): ${msg}`, { cause: e });
  }
}

/**
 * Make `server` listen on host:port inside the namespace. Use '::' for a dual-stack listener (IPv4 peers appear
 * as ::ffff:a.b.c.d), '127.0.0.1' for loopback only. Port 0 picks a free port (see server.address()).
 */
export function listenInNamespace(server: Server, netns: string, address: { host: string; port: number }, opts: NamespaceSocketOptions & { backlog?: number } = {}): Promise<void> {
  const fd = socketIn(netns, false, address.host, address.port, opts);
  const backlog = opts.backlog ?? 511;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd, backlog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * A TCP connection made from inside the namespace (to the app, e.g. 127.0.0.1:<port>), optionally from a local
 * address (Istio delivers inbound traffic from 127.0.0.6, which the capture rules let through).
 */
export function connectInNamespace(netns: string, to: { host: string; port: number; localAddress?: string }, opts: NamespaceSocketOptions = {}): Socket {
  const fd = socketIn(netns, false, to.localAddress ?? null, 0, opts, isIPv6(to.host) ? 6 : 4);
  const socket = new Socket({ fd, readable: true, writable: true });
  socket.connect(to.port, to.host);
  return socket;
}

/** A UDP socket bound to host:port inside the namespace. */
export function udpSocketInNamespace(netns: string, address: { host: string; port: number }, opts: NamespaceSocketOptions = {}): Promise<UdpSocket> {
  const six = isIPv6(address.host);
  const fd = socketIn(netns, true, address.host, address.port, opts);
  const socket = createSocket(six ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ fd }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/**
 * Relay a port inside the namespace to an address in this process's namespace: connections to `listen` inside
 * the namespace are piped, byte for byte, to `to` here. For a sidecar running inside the namespace, this makes
 * the control plane on the host's loopback reachable at the same address (traffic to 127.0.0.1 is never
 * captured). Close the returned server to stop relaying; open relays are destroyed with it.
 */
export async function relayIntoNamespace(netns: string, listen: { host: string; port: number }, to: { host: string; port: number }): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((inside) => {
    const outside = connect({ host: to.host, port: to.port });
    for (const s of [inside, outside]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inside.destroy();
        outside.destroy();
      });
    }
    inside.pipe(outside).pipe(inside);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    sockets.forEach((s) => s.destroy());
    return close(cb);
  };
  await listenInNamespace(server, netns, listen);
  return server;
}
