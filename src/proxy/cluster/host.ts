// An upstream host at runtime: its address, health, outlier state, active request count (for least request)
// and its HTTP/1.1 connection pool (idle keep-alive connections reused LIFO, so the warmest socket goes first;
// closed after the idle timeout, max_requests_per_connection requests, or max_connection_duration of age).
import { UpstreamConnection, type HostPool } from './upstream-connection.ts';
import { tlsConnectOptions, type UpstreamTls } from '../tls/upstream-tls.ts';
import type { SecretStore } from '../tls/secrets.ts';

/** The cluster-wide connection budget (circuit_breakers max_connections) that a host's pool draws from. */
export interface ConnectionBudget {
  connections: number;
  maxConnections: number;
  /** A connection was released or closed: a request waiting for one may proceed. */
  onConnectionFree(): void;
}

export class Host implements HostPool {
  readonly address: string;
  readonly port: number;
  /** `address:port`, as Envoy prints upstream hosts. */
  readonly key: string;
  weight = 1;
  healthy = true;
  priority = 0;
  workload: string | undefined;
  /** Requests in flight (least request picks the host with fewer). */
  active = 0;
  /** Connections open (idle + busy). */
  connections = 0;
  /** Outlier detection. */
  consecutive5xx = 0;
  consecutiveGatewayErrors = 0;
  ejections = 0;
  ejectedUntil = 0;
  /** Counters shown by /clusters. */
  totalRequests = 0;
  totalErrors = 0;
  private readonly idle: UpstreamConnection[] = [];
  connectTimeoutMs = 5000;
  idleTimeoutMs = 3_600_000;
  maxRequestsPerConnection = 0;
  /** Connections older than this take no new request (max_connection_duration, ms); 0 = no limit. */
  maxConnectionDurationMs = 0;
  /** Connections past their maximum age while carrying a request: closed when it ends instead of pooled. */
  private readonly aged = new WeakSet<UpstreamConnection>();
  private readonly ageTimers = new Map<UpstreamConnection, NodeJS.Timeout>();
  /** TLS origination for connections to this host (cluster transport socket or the matching socket match). */
  tls: UpstreamTls | undefined;
  secrets: SecretStore | undefined;
  socketMatch: Record<string, string> = {};
  budget: ConnectionBudget | undefined;

  constructor(address: string, port: number) {
    this.address = address;
    this.port = port;
    this.key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  }

  /**
   * An idle connection if one is open, else a new one (connecting; writes are buffered until connected), or
   * undefined when the cluster's max_connections is reached (the caller waits as a pending request).
   */
  acquire(): { conn: UpstreamConnection; reused: boolean } | undefined {
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.closed && !c.socket.destroyed) return { conn: c, reused: true };
    }
    // (Expired idle connections are closed by sweep(); a just-expired one is still safe to reuse.)
    const budget = this.budget;
    if (budget) {
      if (budget.connections >= budget.maxConnections) return undefined;
      budget.connections++;
    }
    this.connections++;
    const tlsOptions = this.tls ? tlsConnectOptions(this.tls, this.secrets) : undefined;
    const conn = new UpstreamConnection(this.address, this.port, this.connectTimeoutMs, this, tlsOptions);
    if (this.maxConnectionDurationMs > 0) this.limitAge(conn, this.maxConnectionDurationMs);
    return { conn, reused: false };
  }

  /**
   * max_connection_duration: at that age an idle connection closes; a busy one finishes its request and then closes
   * (Envoy drains it; a request is never cut). One timer per connection, and only when the limit is set.
   */
  private limitAge(conn: UpstreamConnection, ms: number): void {
    const timer = setTimeout(() => {
      this.ageTimers.delete(conn);
      if (this.idle.includes(conn)) conn.destroy();
      else this.aged.add(conn);
    }, ms);
    timer.unref();
    this.ageTimers.set(conn, timer);
  }

  release(conn: UpstreamConnection): void {
    if ((this.maxRequestsPerConnection > 0 && conn.requests >= this.maxRequestsPerConnection) || (this.maxConnectionDurationMs > 0 && this.aged.has(conn))) {
      conn.destroy();
      return;
    }
    conn.idleSince = performance.now();
    this.idle.push(conn);
    this.budget?.onConnectionFree();
  }

  /** Close connections idle longer than the idle timeout (called periodically by the cluster manager). */
  sweep(now: number): void {
    if (this.idleTimeoutMs <= 0) return;
    for (const c of this.idle.filter((c) => now - c.idleSince > this.idleTimeoutMs)) c.destroy();
  }

  forget(conn: UpstreamConnection): void {
    if (this.ageTimers.size > 0) {
      clearTimeout(this.ageTimers.get(conn));
      this.ageTimers.delete(conn);
    }
    this.connections--;
    if (this.budget) {
      this.budget.connections--;
      this.budget.onConnectionFree();
    }
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Close one idle connection (to free a slot of the cluster's budget for another host). */
  closeOneIdle(): boolean {
    const c = this.idle.shift();
    if (!c) return false;
    c.destroy();
    return true;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** Close every idle connection (host removed or draining). */
  closeIdle(): void {
    for (const c of this.idle.splice(0)) c.destroy();
  }

  available(now: number): boolean {
    return this.healthy && this.ejectedUntil <= now;
  }
}
