// TLS termination on a listener's filter chain (Gateway servers with tls.mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL,
// ISTIO_MUTUAL): the chain was chosen from the ClientHello (SNI), so the certificate is the chain's own. After the
// handshake the decrypted stream goes to the chain's HTTP connection manager (HTTP/1.1, or HTTP/2 by ALPN) or to
// its tcp_proxy (a TLS server with tcp routes). TLS runs natively on the TCP socket (the ClientHello the inspector
// read was unshifted back into it), as on the inbound listener: no JavaScript stream layer per record.
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { DownstreamConnection, type DownstreamTls, type ListenerContext } from '../hcm/connection.ts';
import { acceptH2 } from '../h2/h2-connection.ts';
import type { ProxyServices } from '../hcm/services.ts';
import type { ServerContexts } from '../tls/server-contexts.ts';
import { peerCertificateStatus } from '../tls/peer-verify.ts';
import type { ConnectionFacts } from './chain-match.ts';
import type { FilterChainConfig, ListenerConfig } from './listener-config.ts';
import { proxyTcp } from './tcp-proxy.ts';

/** A handshake that has not completed by then is abandoned. */
export const handshakeTimeoutMs = 10_000;

/** `socket` is paused with its first bytes (the ClientHello) unread; `chain.tls` is set. */
export function terminateTls(socket: net.Socket, l: ListenerConfig, chain: FilterChainConfig, facts: ConnectionFacts, services: ProxyServices, contexts: ServerContexts): void {
  const cfg = chain.tls!;
  const secureContext = contexts.context(cfg);
  if (typeof secureContext === 'string') {
    // No usable certificate (the reason is logged once by ServerContexts): close as Envoy does without a secret.
    socket.destroy();
    return;
  }
  services.track(socket);
  // A peer that resets or half-closes while TLS still writes (close_notify) must not become an unhandled error.
  socket.on('error', () => socket.destroy());
  // The inspector left the ClientHello in the socket's buffer: TLSSocket hands buffered bytes to OpenSSL first.
  const t = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext,
    requestCert: cfg.clientCa !== undefined,
    rejectUnauthorized: cfg.requireClientCert,
    ...(cfg.alpn.length > 0 ? { ALPNProtocols: cfg.alpn } : {}),
  });
  const timer = setTimeout(() => t.destroy(), handshakeTimeoutMs);
  timer.unref();
  t.on('error', () => {
    clearTimeout(timer);
    t.destroy();
    socket.destroy();
  });
  t.once('secure', () => {
    clearTimeout(timer);
    // MUTUAL needs a certificate the CA signed; OPTIONAL_MUTUAL also takes none, never one the CA did not sign.
    const peer = cfg.clientCa ? peerCertificateStatus(t) : 'none';
    if (peer === 'unverified' || (cfg.requireClientCert && peer !== 'verified')) {
      t.destroy();
      socket.destroy();
      return;
    }
    const direction = l.name.startsWith('inbound') ? 'inbound' : 'outbound';
    if (chain.action.kind === 'tcp') {
      proxyTcp(t as unknown as net.Socket, chain.action, services, { direction });
      return;
    }
    const ctx: ListenerContext = { services, direction, mode: 'listener', hcm: chain.action.hcm, listenerName: l.name, maxHeaderBytes: chain.action.hcm.maxHeaderBytes };
    const info: DownstreamTls = { peer: undefined, sniPort: undefined, transport: socket, sni: facts.sni, alpn: facts.alpn };
    if (t.alpnProtocol === 'h2') {
      // node:http2 adopts the TLS socket itself; it waits for 'secureConnect' while `secureConnecting` is set, which
      // only tls.Server clears (see inbound-tls.ts): clear it as tls.Server does.
      (t as tls.TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      acceptH2(t as unknown as net.Socket, ctx, info, socket);
    } else new DownstreamConnection(t as unknown as net.Socket, ctx, info);
  });
}
