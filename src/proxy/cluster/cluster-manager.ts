// The runtime side of clusters: one Cluster per CDS resource, its hosts from EDS (or the inline load assignment),
// its load balancer and counters. Hosts keep their pools across config versions when their address is unchanged.
import type { ClusterConfig, EndpointConfig, LoadAssignment } from './cluster-config.ts';
import { Host, type ConnectionBudget } from './host.ts';
import { makeLoadBalancer, type LoadBalancer } from './load-balancer.ts';
import type { SecretStore } from '../tls/secrets.ts';

export class Cluster implements ConnectionBudget {
  config: ClusterConfig;
  /** Connections open to all hosts (circuit_breakers max_connections). */
  connections = 0;
  /** Requests waiting for a connection (circuit_breakers max_pending_requests), oldest first. */
  readonly pending: (() => void)[] = [];
  hosts: Host[] = [];
  lb: LoadBalancer;
  /** Requests in flight across hosts (circuit breaker max_requests). */
  active = 0;
  /** Retries waiting in backoff across the cluster (circuit breaker max_retries). */
  retriesActive = 0;
  /** ORIGINAL_DST: hosts made on demand from the request's destination. */
  private readonly dynamic = new Map<string, Host>();
  stats = { rqTotal: 0, rqRetry: 0, rqRetryOverflow: 0, cxConnectFail: 0, rqTimeout: 0, overflow: 0, noHealthy: 0 };

  secrets: SecretStore | undefined;

  constructor(config: ClusterConfig, secrets: SecretStore | undefined) {
    this.config = config;
    this.secrets = secrets;
    this.lb = makeLoadBalancer(config.lbPolicy, config.minRingSize);
    if (config.type !== 'eds') this.setEndpoints(config.endpoints);
  }

  update(config: ClusterConfig): void {
    const lbChanged = config.lbPolicy !== this.config.lbPolicy || config.minRingSize !== this.config.minRingSize;
    this.config = config;
    if (lbChanged) this.lb = makeLoadBalancer(config.lbPolicy, config.minRingSize);
    if (config.type !== 'eds') this.setEndpoints(config.endpoints);
    for (const h of this.hosts) this.tune(h);
  }

  setEndpoints(endpoints: EndpointConfig[]): void {
    const old = new Map(this.hosts.map((h) => [h.key, h]));
    const next: Host[] = [];
    for (const e of endpoints) {
      const probe = new Host(e.address, e.port);
      const h = old.get(probe.key) ?? probe;
      old.delete(h.key);
      h.weight = e.weight;
      h.healthy = e.healthy;
      h.priority = e.priority;
      h.workload = e.workload;
      h.socketMatch = e.socketMatch;
      this.tune(h);
      next.push(h);
    }
    for (const gone of old.values()) gone.closeIdle();
    this.hosts = next;
  }

  get maxConnections(): number {
    return this.config.maxConnections;
  }

  onConnectionFree(): void {
    const next = this.pending.shift();
    if (next) queueMicrotask(next);
  }

  /** A pending request found every slot taken by idle connections of other hosts: close one of those. */
  freeIdleSlot(): boolean {
    for (const h of this.allHosts()) if (h.closeOneIdle()) return true;
    return false;
  }

  private tune(h: Host): void {
    h.budget = this;
    h.secrets = this.secrets;
    h.tls = this.config.tls;
    for (const m of this.config.tlsMatches) {
      if (Object.entries(m.match).every(([k, v]) => h.socketMatch[k] === v)) {
        h.tls = m.tls;
        break;
      }
    }
    h.connectTimeoutMs = this.config.connectTimeoutMs;
    h.idleTimeoutMs = this.config.idleTimeoutMs;
    h.maxConnectionDurationMs = this.config.maxConnectionDurationMs;
    h.maxRequestsPerConnection = this.config.maxRequestsPerConnection;
  }

  /** Pick a host. For ORIGINAL_DST clusters the destination (host:port of the request) names the host. */
  choose(now: number, random: () => number, destination: string | undefined, hash?: number): Host | undefined {
    if (this.config.type === 'original_dst') return destination === undefined ? undefined : this.originalDst(destination);
    return this.lb.choose(this.hosts, now, random, hash);
  }

  private originalDst(destination: string): Host | undefined {
    let h = this.dynamic.get(destination);
    if (h) return h;
    const colon = destination.lastIndexOf(':');
    const port = colon > 0 ? Number(destination.slice(colon + 1)) : 80;
    let address = colon > 0 ? destination.slice(0, colon) : destination;
    if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
    if (!Number.isInteger(port) || port <= 0 || port > 65535 || address === '') return undefined;
    if (this.dynamic.size >= 1024) {
      // Bound the map: drop the oldest idle host.
      for (const [k, v] of this.dynamic) {
        if (v.active === 0) {
          v.closeIdle();
          this.dynamic.delete(k);
          break;
        }
      }
    }
    h = new Host(address, port);
    this.tune(h);
    this.dynamic.set(destination, h);
    return h;
  }

  close(): void {
    for (const h of this.hosts) h.closeIdle();
    for (const h of this.dynamic.values()) h.closeIdle();
  }

  allHosts(): Host[] {
    return this.config.type === 'original_dst' ? [...this.dynamic.values()] : this.hosts;
  }
}

export class ClusterManager {
  /** Workload secrets for ISTIO_MUTUAL upstreams (undefined: no identity, such connections fail with UF). */
  secrets: SecretStore | undefined;
  private clusters = new Map<string, Cluster>();
  private assignments = new Map<string, LoadAssignment>();
  /** One timer for all idle-connection timeouts instead of one per request. */
  private readonly sweeper = setInterval(() => this.sweep(), 5000).unref();

  private sweep(): void {
    const now = performance.now();
    for (const c of this.clusters.values()) for (const h of c.allHosts()) h.sweep(now);
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  names(): string[] {
    return [...this.clusters.keys()];
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  /** Replace the set of clusters (state of the world). Clusters that stay keep their hosts and pools. */
  setClusters(configs: readonly ClusterConfig[]): void {
    const next = new Map<string, Cluster>();
    for (const c of configs) {
      const existing = this.clusters.get(c.name);
      if (existing) {
        existing.secrets = this.secrets;
        existing.update(c);
        next.set(c.name, existing);
      } else next.set(c.name, new Cluster(c, this.secrets));
    }
    for (const [name, c] of this.clusters) if (!next.has(name)) c.close();
    this.clusters = next;
    this.applyAssignments();
  }

  /** Replace EDS assignments (state of the world for the subscribed names). */
  setAssignments(assignments: readonly LoadAssignment[]): void {
    this.assignments = new Map(assignments.map((a) => [a.clusterName, a]));
    this.applyAssignments();
  }

  /** EDS service names that clusters need (the EDS subscription). */
  edsNames(): string[] {
    const out: string[] = [];
    for (const c of this.clusters.values()) if (c.config.type === 'eds') out.push(c.config.edsServiceName);
    return out;
  }

  private applyAssignments(): void {
    for (const c of this.clusters.values()) {
      if (c.config.type !== 'eds') continue;
      const a = this.assignments.get(c.config.edsServiceName);
      c.setEndpoints(a ? a.endpoints : []);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const c of this.clusters.values()) c.close();
  }
}
