// Envoy's tls_inspector listener filter: hold a new connection until its first bytes tell TLS (a ClientHello, with
// its SNI and ALPN) from plaintext, then hand the connection on with those bytes still unread (unshifted), so the
// chosen filter chain sees the stream from its first byte. Bounded in bytes (maxHelloBytes) and time.
import type * as net from 'node:net';
import { maxHelloBytes, peekClientHello } from '../tls/client-hello.ts';
import type { ConnectionFacts } from './chain-match.ts';

/** How long a client may take to send its ClientHello (Envoy's listener_filters_timeout default, 15 s). */
export const helloTimeoutMs = 15_000;

/** The facts of a connection nothing has been read from yet. */
export function socketFacts(socket: net.Socket, port: number): ConnectionFacts {
  return { port: socket.localPort ?? port, address: socket.localAddress, sni: undefined, transport: 'raw_buffer', alpn: [], sourceAddress: socket.remoteAddress, sourcePort: socket.remotePort };
}

/**
 * Read until the first bytes classify the connection, then call `next` with the facts; the bytes read are pushed
 * back into the socket, which is left paused (the consumer resumes it, or pipes it, and reads them first).
 * A malformed or oversized hello, a timeout or an early close destroys the socket.
 */
export function inspectTls(socket: net.Socket, port: number, next: (facts: ConnectionFacts) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), helloTimeoutMs);
  timer.unref();
  const done = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onError);
  };
  const onError = (): void => {
    done();
    socket.destroy();
  };
  const onData = (d: Buffer): void => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    const r = peekClientHello(buf);
    if (r.kind === 'more' && buf.length < maxHelloBytes) return;
    done();
    if (r.kind === 'invalid' || r.kind === 'more') {
      socket.destroy();
      return;
    }
    socket.pause();
    socket.unshift(buf);
    const facts = socketFacts(socket, port);
    if (r.kind === 'hello') {
      facts.transport = 'tls';
      facts.sni = r.sni;
      facts.alpn = r.alpn;
    }
    next(facts);
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onError);
}
