// Inbound protocol detection (Envoy's tls_inspector): the first byte of a connection tells TLS (0x16, a handshake
// record) from plaintext. TLS connections are terminated with the workload identity and must present a client
// certificate signed by the mesh roots that carries a SPIFFE id; plaintext goes straight to the HTTP codec (the
// inbound chains then decide whether plaintext is allowed on that port: PERMISSIVE vs STRICT).
import type * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { SecretStore } from '../tls/secrets.ts';
import { peerCertificateStatus } from '../tls/peer-verify.ts';
import { DownstreamConnection, type DownstreamTls, type ListenerContext } from '../hcm/connection.ts';
import type { TrackedConnection } from '../hcm/services.ts';
import { acceptH2 } from '../h2/h2-connection.ts';
import { proxyTcp } from './tcp-proxy.ts';

/** Parse the service port out of Istio's outbound SNI `outbound_.9080_.v1_.reviews.default.svc.cluster.local`. */
export function portFromSni(sni: string | undefined): number | undefined {
  const m = sni ? /^outbound_\.(\d+)_\./.exec(sni) : null;
  return m ? Number(m[1]) : undefined;
}

/** The URI SAN that is a SPIFFE id, if exactly one. */
function spiffeOf(cert: tls.PeerCertificate | undefined): string | undefined {
  const uris = (cert?.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:spiffe://'));
  return uris.length === 1 ? uris[0]!.slice(4) : undefined;
}

/**
 * How long a new inbound connection may take to send its first byte and, if it is TLS, to finish the handshake
 * (Envoy's listener_filters_timeout default, 15 s). A plaintext TCP port whose client has sent nothing by then is
 * handed to the app anyway (server-first protocols such as MySQL or SMTP, as Envoy's
 * continue_on_listener_filters_timeout, which Istio sets for inbound); any other connection is closed.
 */
export const INBOUND_DETECTION_TIMEOUT_MS = 15_000;

/** A connection still being classified or handshaking: counted, closed by drain, bounded in time. */
class PendingInbound implements TrackedConnection {
  readonly socket: net.Socket;
  readonly start = performance.now();
  readonly timeoutMs: number;
  readonly onTimeout: () => void;
  settled = false;

  constructor(socket: net.Socket, timeoutMs: number, onTimeout: () => void) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
  }

  closeIfIdle(): void {
    if (!this.settled) this.socket.destroy();
  }

  sweep(now: number): void {
    if (!this.settled && now - this.start >= this.timeoutMs) {
      this.settled = true;
      this.onTimeout();
    }
  }
}

export function acceptInbound(socket: net.Socket, ctx: ListenerContext, secrets: SecretStore | undefined, timeoutMs = INBOUND_DETECTION_TIMEOUT_MS): void {
  const plaintext = (): void => {
    // A TCP port (tcp_proxy chain for the port the connection arrived on): bytes go to the app unparsed.
    const tcp = ctx.services.snapshot.inboundTcpByPort.get(socket.localPort ?? 0);
    if (tcp) proxyTcp(socket, tcp, ctx.services, { direction: 'inbound' });
    else new DownstreamConnection(socket, ctx);
  };
  let gotFirstByte = false;
  const pending = new PendingInbound(socket, timeoutMs, () => {
    // Nothing sent yet on a plaintext TCP port: a server-first protocol; otherwise (a silent client, or a TLS
    // handshake that stalled) the connection is closed.
    if (!gotFirstByte && ctx.services.snapshot.inboundTcpByPort.has(socket.localPort ?? 0)) {
      socket.removeListener('data', onFirst);
      plaintext();
    } else socket.destroy();
  });
  ctx.services.track(socket, pending);
  const onFirst = (first: Buffer): void => {
    gotFirstByte = true;
    socket.pause();
    if (first[0] !== 0x16) {
      pending.settled = true;
      socket.unshift(first);
      plaintext();
      socket.resume();
      return;
    }
    const secureContext = secrets?.serverContext();
    if (!secureContext) {
      // No workload certificate yet: TLS cannot be terminated.
      socket.destroy();
      return;
    }
    // The first bytes go back into the socket's buffer: TLSSocket feeds buffered bytes to OpenSSL before reading
    // from the handle, so TLS runs natively on the TCP handle (no JavaScript stream layer per record).
    socket.unshift(first);
    const t = new tls.TLSSocket(socket, { isServer: true, secureContext, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2', 'http/1.1'] });
    t.on('error', () => {
      t.destroy();
      socket.destroy();
    });
    t.once('secure', () => {
      pending.settled = true;
      // Only a certificate the mesh roots signed counts (a bare TLSSocket does not check the chain itself).
      const peer = peerCertificateStatus(t) === 'verified' ? spiffeOf(t.getPeerCertificate()) : undefined;
      if (!peer) {
        t.destroy();
        socket.destroy();
        return;
      }
      const info: DownstreamTls = { peer, sniPort: portFromSni((t as tls.TLSSocket & { servername?: string | false }).servername || undefined), transport: socket };
      // A TCP port over mutual TLS: the chain for the local port (one inbound listener per workload port), else the SNI's.
      const tcpChains = ctx.services.snapshot.inboundTlsTcpByPort;
      const tcp = tcpChains.get(socket.localPort ?? 0) ?? (info.sniPort !== undefined && !ctx.services.snapshot.inboundTlsHttpByPort.has(socket.localPort ?? 0) ? tcpChains.get(info.sniPort) : undefined);
      if (tcp) {
        proxyTcp(t as unknown as net.Socket, tcp, ctx.services, { direction: 'inbound', peer });
        return;
      }
      if (t.alpnProtocol === 'h2') {
        // node:http2 adopts the TLS socket itself. It waits for 'secureConnect' while `secureConnecting` is set, which
        // only tls.Server clears (before 'secureConnection'): a server socket built here must clear it the same way.
        (t as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
        acceptH2(t as unknown as net.Socket, ctx, info, socket);
      } else new DownstreamConnection(t as unknown as net.Socket, ctx, info);
    });
  };
  socket.once('data', onFirst);
  socket.on('error', () => socket.destroy());
}

/** A Duplex over `socket` that first yields `head` (bytes already consumed while sniffing the protocol). */
export function replayingDuplex(socket: net.Socket, head: Buffer | undefined): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end(cb);
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  if (head && head.length > 0) d.push(head);
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  return d;
}
