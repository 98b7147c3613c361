// HTTP/2 upstream sessions: one multiplexed session per host (h2c, or h2 over TLS with the host's transport socket —
// ISTIO_MUTUAL included), reused until it closes or errors.
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { Host } from '../cluster/host.ts';
import { tlsConnectOptions } from '../tls/upstream-tls.ts';

const sessions = new WeakMap<Host, http2.ClientHttp2Session>();

/** The host's HTTP/2 session, opened on first use; or why one cannot be opened (no workload certificate). */
export function h2Session(host: Host, connectTimeoutMs: number): http2.ClientHttp2Session | string {
  const existing = sessions.get(host);
  if (existing && !existing.closed && !existing.destroyed) return existing;
  const authority = `http://${host.key}`;
  let session: http2.ClientHttp2Session;
  if (host.tls) {
    const opts = tlsConnectOptions(host.tls, host.secrets);
    if (typeof opts === 'string') return opts;
    session = http2.connect(authority.replace('http:', 'https:'), {
      createConnection: () => tls.connect({ ...opts, host: host.address, port: host.port, ALPNProtocols: ['h2'] }),
    });
  } else session = http2.connect(authority);
  const timer = setTimeout(() => session.destroy(new Error('connection timeout')), connectTimeoutMs);
  session.once('connect', () => clearTimeout(timer));
  session.on('error', () => undefined); // surfaced on the streams; the session is replaced on next use
  session.once('close', () => {
    clearTimeout(timer);
    if (sessions.get(host) === session) sessions.delete(host);
  });
  session.unref();
  sessions.set(host, session);
  return session;
}

export function closeH2Session(host: Host): void {
  sessions.get(host)?.close();
  sessions.delete(host);
}
