// Test helpers for workload identities: a real mTLS echo server and client on 127.0.0.1 using the identity
// library's TLS options with SPIFFE peer validation, and an event wait for rotations.
import { once } from 'node:events';
import { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { type SpiffeId, formatSpiffeId } from '../../core/names/spiffe.ts';
import type { IdentityManager, WorkloadIdentity } from './manager.ts';
import { type PeerPolicy, acceptSpiffePeer, clientTlsOptions, followRotations, serverTlsOptions, spiffeIdOfPeer } from './tls.ts';

export interface EchoServer {
  port: number;
  /** SPIFFE ids of clients accepted so far, in order. */
  peers: string[];
  server: tls.Server;
  close(): Promise<void>;
}

/** An mTLS echo server: verifies the client's chain and SPIFFE id, then echoes lines. Follows the manager's rotations. */
export async function startEchoServer(manager: IdentityManager, policy: PeerPolicy): Promise<EchoServer> {
  const peers: string[] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer(serverTlsOptions(manager.current()!), (socket) => {
    const id = acceptSpiffePeer(socket, policy);
    if (!id) return;
    peers.push(formatSpiffeId(id));
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  const detach = followRotations(server, manager);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    peers,
    server,
    async close() {
      detach();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface EchoClient {
  socket: tls.TLSSocket;
  /** The server's SPIFFE id and certificate serial as seen in the handshake. */
  peer: SpiffeId;
  peerSerial: string;
  /** Sends a line and resolves with the echoed line. */
  echo(line: string): Promise<string>;
}

export async function connectEcho(port: number, id: WorkloadIdentity, policy: PeerPolicy): Promise<EchoClient> {
  const socket = tls.connect({ host: '127.0.0.1', port, ...clientTlsOptions(id, policy) });
  socket.setEncoding('utf8');
  await once(socket, 'secureConnect');
  const cert = socket.getPeerCertificate();
  let buffered = '';
  return {
    socket,
    peer: spiffeIdOfPeer(cert)!,
    peerSerial: cert.serialNumber.toLowerCase(),
    async echo(line) {
      socket.write(line + '\n');
      while (!buffered.includes('\n')) {
        const [chunk] = (await once(socket, 'data')) as [string];
        buffered += chunk;
      }
      const i = buffered.indexOf('\n');
      const out = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      return out;
    },
  };
}

/** Resolves with the first rotation (current one included) that satisfies `pred`; rejects after `timeoutMs`. */
export function waitForIdentity(manager: IdentityManager, pred: (id: WorkloadIdentity) => boolean, timeoutMs = 15_000): Promise<WorkloadIdentity> {
  const cur = manager.current();
  if (cur && pred(cur)) return Promise.resolve(cur);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      manager.off('rotated', on);
      reject(new Error(`no matching identity within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (id: WorkloadIdentity): void => {
      if (!pred(id)) return;
      clearTimeout(timer);
      manager.off('rotated', on);
      resolve(id);
    };
    manager.on('rotated', on);
  });
}
