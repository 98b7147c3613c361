// The HTTP/2 connection pool of one upstream host: multiplexed sessions (h2c, or h2 over the host's TLS —
// ISTIO_MUTUAL included — negotiated by ALPN), each carrying up to max_concurrent_streams streams (the cluster's
// http2_protocol_options and the peer's SETTINGS, whichever is lower). A new session is opened only when every open
// one is full, within the cluster's max_connections budget; past it the caller waits as a pending request, and a
// freed stream slot wakes it as a freed HTTP/1.1 connection does. Sessions close after the idle timeout, after
// max_requests_per_connection streams or max_connection_duration of age (gracefully), or when the peer sends GOAWAY.
import * as http2 from 'node:http2';
import type { Host } from '../cluster/host.ts';
import { connectUpstreamTls, tlsConnectOptions } from '../tls/upstream-tls.ts';

/** One upstream HTTP/2 connection and its stream accounting. */
export class PooledSession {
  readonly session: http2.ClientHttp2Session;
  readonly pool: H2HostPool;
  /** Streams open now, and opened in total (max_requests_per_connection). */
  streams = 0;
  total = 0;
  connected = false;
  /** No new streams: GOAWAY received, max_requests_per_connection reached, or closing. */
  draining = false;
  /** Why the connection failed (the error code or message), for the streams' failure details. */
  failure: string | undefined;
  timedOut = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(pool: H2HostPool, session: http2.ClientHttp2Session) {
    this.pool = pool;
    this.session = session;
  }

  /** Streams this session may carry at once (the peer's limit is known once its SETTINGS arrived). */
  get capacity(): number {
    const peer = this.connected ? (this.session.remoteSettings.maxConcurrentStreams ?? Infinity) : Infinity;
    return Math.min(this.pool.maxStreams, peer);
  }

  get usable(): boolean {
    return !this.draining && !this.session.closed && !this.session.destroyed && this.streams < this.capacity;
  }

  opened(): void {
    this.streams++;
    this.total++;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const perConn = this.pool.host.maxRequestsPerConnection;
    if (perConn > 0 && this.total >= perConn) this.draining = true;
  }

  closed(): void {
    this.streams--;
    if (this.streams > 0) return this.pool.slotFree();
    if (this.draining) this.session.close();
    else if (this.pool.host.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => {
        this.draining = true;
        this.session.close();
      }, this.pool.host.idleTimeoutMs).unref();
    }
    this.pool.slotFree();
  }

  clearIdle(): void {
    clearTimeout(this.idleTimer);
  }
}

export class H2HostPool {
  readonly host: Host;
  readonly sessions: PooledSession[] = [];
  /** The cluster's http2_protocol_options.max_concurrent_streams (set by the caller per request). */
  maxStreams = 2_147_483_647;

  constructor(host: Host) {
    this.host = host;
  }

  /**
   * A session with a free stream slot (opening one if needed), a string when a connection cannot be attempted
   * (TLS required but no workload certificate yet), or undefined when max_connections is reached.
   */
  take(): PooledSession | string | undefined {
    for (const s of this.sessions) if (s.usable) return s;
    const budget = this.host.budget;
    if (budget) {
      if (budget.connections >= budget.maxConnections) return undefined;
    }
    const made = this.open();
    if (typeof made === 'string') return made;
    if (budget) budget.connections++;
    this.host.connections++;
    this.sessions.push(made);
    return made;
  }

  private open(): PooledSession | string {
    const host = this.host;
    let session: http2.ClientHttp2Session;
    const settings = { enablePush: false };
    if (host.tls) {
      const opts = tlsConnectOptions(host.tls, host.secrets);
      if (typeof opts === 'string') return opts;
      session = http2.connect(`https://${host.key}`, {
        settings,
        createConnection: () => connectUpstreamTls({ ...opts, ALPNProtocols: ['h2'] }, host.address, host.port),
      });
    } else session = http2.connect(`http://${host.key}`, { settings });
    // The proxy's listeners keep the process alive; an idle upstream session must not.
    session.unref();
    const ps = new PooledSession(this, session);
    const timer = setTimeout(() => {
      ps.timedOut = true;
      ps.failure = 'connection timeout';
      session.destroy(new Error('connection timeout'));
    }, host.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      ps.connected = true;
      // The peer's SETTINGS may allow fewer streams than we assumed: waiting requests re-check on the next slot.
    });
    session.on('error', (e: NodeJS.ErrnoException) => {
      ps.failure ??= e.code ?? e.message;
    });
    session.on('goaway', () => {
      ps.draining = true;
    });
    // max_connection_duration: past that age the session takes no new stream and closes once its streams end.
    const maxAge = host.maxConnectionDurationMs;
    const ageTimer =
      maxAge > 0
        ? setTimeout(() => {
            ps.draining = true;
            if (ps.streams === 0) session.close();
          }, maxAge).unref()
        : undefined;
    session.once('close', () => {
      clearTimeout(timer);
      clearTimeout(ageTimer);
      ps.draining = true;
      ps.clearIdle();
      const i = this.sessions.indexOf(ps);
      if (i >= 0) {
        this.sessions.splice(i, 1);
        host.connections--;
        const budget = host.budget;
        if (budget) {
          budget.connections--;
          budget.onConnectionFree();
        }
      }
    });
    return ps;
  }

  /** A stream ended: a request waiting for capacity may go. */
  slotFree(): void {
    this.host.budget?.onConnectionFree();
  }

  /** Close every session (host removed or proxy closing); open streams finish first. */
  close(): void {
    for (const s of this.sessions) {
      s.draining = true;
      s.session.close();
    }
  }

  /** Sessions currently open, and streams on them (for tests and admin). */
  get streamCount(): number {
    let n = 0;
    for (const s of this.sessions) n += s.streams;
    return n;
  }
}

const pools = new WeakMap<Host, H2HostPool>();

/** The host's HTTP/2 pool (created on first use; it lives as long as the host). */
export function h2Pool(host: Host): H2HostPool {
  let p = pools.get(host);
  if (!p) {
    p = new H2HostPool(host);
    pools.set(host, p);
  }
  return p;
}
