// The running proxy: config state (the one mutator), cluster runtime, bound listeners, metrics and access log.
// xDS updates come in through apply(); the compiled snapshot is swapped atomically so in-flight requests finish
// on the config they started with and the next request sees the new one.
import type * as net from 'node:net';
import { parseClusterName } from '../core/names/cluster-name.ts';
import { TypeUrl } from '../xds/protos.ts';
import type { AccessLog } from './access-log/access-log.ts';
import { ClusterManager, type Cluster } from './cluster/cluster-manager.ts';
import type { Host } from './cluster/host.ts';
import { ConfigState, type ResourceError } from './config/config-state.ts';
import type { Raw } from './config/raw.ts';
import { emptySnapshot, type ProxySnapshot } from './config/snapshot.ts';
import type { Direction, ProxyServices, TrackedConnection } from './hcm/services.ts';
import { ListenerManager } from './listener/listener-manager.ts';
import { TracingHost } from './tracing/host.ts';
import { childEnv } from '../core/env.ts';
import type { SecretStore } from './tls/secrets.ts';
import { IstioMetrics, workloadFromMetadata, type MetricScope, type WorkloadInfo } from './stats/istio-metrics.ts';

export interface EngineOptions {
  /** This proxy's workload identity, for metric labels. */
  workload: WorkloadInfo;
  accessLog?: AccessLog | undefined;
  /** Injected randomness (tests seed it). */
  random?: () => number;
  /** DNS domain suffix used to split destination_service into name and namespace. */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** xDS node id: the node_id tag of trace spans. */
  nodeId?: string;
  /** Weft's version (OTLP instrumentation scope). */
  version?: string;
}

export class ProxyEngine implements ProxyServices {
  snapshot: ProxySnapshot = emptySnapshot;
  readonly clusters = new ClusterManager();
  readonly state = new ConfigState();
  readonly metrics = new IstioMetrics();
  readonly listeners: ListenerManager;
  /** Trace spans (src/proxy/tracing); its code loads with the first traced request. */
  readonly tracing: TracingHost;
  readonly accessLog: AccessLog | undefined;
  readonly workload: WorkloadInfo;
  draining = false;
  /** Workload identity for mutual TLS (set by the agent when it has one). */
  secrets: SecretStore | undefined;
  /** Ports the proxy binds itself (never bound again for an LDS listener). */
  readonly reserved = new Set<number>();
  private readonly rand: () => number;
  readonly log: NonNullable<EngineOptions['log']>;
  private readonly sockets = new Map<net.Socket, TrackedConnection | undefined>();
  /** One timer enforces every connection's idle timeouts (no timer per request). */
  private readonly sweeper = setInterval(() => {
    const now = performance.now();
    for (const c of this.sockets.values()) c?.sweep(now);
  }, 1000).unref();
  private readonly scopes = { outbound: new WeakMap<object, MetricScope>(), inbound: new WeakMap<object, MetricScope>() };
  private readonly noClusterScopes = new Map<string, MetricScope>();
  /** Resolves the first time every subscribed type has been received (readiness). */
  configured = false;
  /** Bumped on every applied change (admin shows it). */
  generation = 0;

  constructor(options: EngineOptions) {
    this.workload = options.workload;
    this.accessLog = options.accessLog;
    this.rand = options.random ?? Math.random;
    this.log = options.log ?? ((level, message) => void process.stderr.write(`${level}: ${message}\n`));
    this.listeners = new ListenerManager(this);
    this.tracing = new TracingHost({
      nodeId: options.nodeId ?? 'unknown',
      version: options.version ?? 'unknown',
      resolve: (cluster) => this.clusters.get(cluster)?.choose(performance.now(), this.random, undefined),
      random: this.random,
      env: (name) => childEnv({})[name],
      log: this.log,
    });
  }

  /** Bound, so it can be handed around as a function. */
  readonly random = (): number => this.rand();

  track(socket: net.Socket, conn?: TrackedConnection): void {
    this.sockets.set(socket, conn);
    socket.once('close', () => this.sockets.delete(socket));
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Apply one xDS response. Returns the errors of rejected resources (empty = ACK). */
  apply(typeUrl: string, resources: readonly Raw[], version: string, removed?: readonly string[]): ResourceError[] {
    const errors = this.state.apply(typeUrl, resources, version, removed);
    switch (typeUrl) {
      case TypeUrl.cluster:
        this.clusters.setClusters(this.state.clusterConfigs());
        this.state.retain(TypeUrl.endpoint, this.state.endpointNames());
        break;
      case TypeUrl.endpoint:
        this.clusters.setAssignments(this.state.assignments());
        break;
      case TypeUrl.listener:
        this.state.retain(TypeUrl.route, this.state.routeNames());
        this.snapshot = this.state.snapshot();
        void this.listeners.reconcile(this.snapshot.listeners.values(), this.reserved);
        break;
      case TypeUrl.route:
        this.snapshot = this.state.snapshot();
        break;
    }
    this.generation++;
    for (const e of errors) this.log('warn', `rejected ${e.typeUrl} ${e.name}: ${e.errors.map((f) => `${f.path}: ${f.message}`).join('; ')}`);
    return errors;
  }

  /** Give the proxy its workload identity (SDS `default` and `ROOTCA`): inbound mTLS and ISTIO_MUTUAL upstreams. */
  setSecrets(secrets: SecretStore): void {
    this.secrets = secrets;
    this.clusters.secrets = secrets;
    this.clusters.setClusters(this.state.clusterConfigs().map((c) => c));
  }

  /** RDS names the current listeners reference (XdsSink). */
  routeNames(): Set<string> {
    return this.state.routeNames();
  }

  /** EDS names the current clusters reference (XdsSink). */
  endpointNames(): Set<string> {
    return this.state.endpointNames();
  }

  metricScope(direction: Direction, clusterName: string, cluster: Cluster | undefined, host: Host | undefined, peer?: string): MetricScope {
    if (direction === 'inbound' && peer !== undefined) return this.inboundPeerScope(peer);
    const key: object | undefined = host ?? cluster;
    const cache = this.scopes[direction];
    let scope = key ? cache.get(key) : this.noClusterScopes.get(`${direction}|${clusterName}`);
    if (scope) return scope;
    const me = this.workload;
    const parsed = parseClusterName(clusterName);
    const service = parsed.ok && parsed.value.host !== '' ? parsed.value.host : 'unknown';
    const [svcName, svcNs] = service === 'unknown' ? ['unknown', 'unknown'] : [service.split('.')[0] ?? service, service.split('.')[1] ?? 'unknown'];
    if (direction === 'outbound') {
      const peer = workloadFromMetadata(host?.workload);
      scope = this.metrics.scope({
        reporter: 'source',
        source: me,
        destination: peer,
        destinationService: service === 'unknown' ? clusterName || 'unknown' : service,
        destinationServiceName: svcName,
        destinationServiceNamespace: svcNs,
        requestProtocol: 'http',
        connectionSecurityPolicy: 'unknown',
      });
    } else {
      const svc = `${me.canonicalService}.${me.namespace}.svc.cluster.local`;
      scope = this.metrics.scope({
        reporter: 'destination',
        source: workloadFromMetadata(undefined),
        destination: me,
        destinationService: svc,
        destinationServiceName: me.canonicalService,
        destinationServiceNamespace: me.namespace,
        requestProtocol: 'http',
        connectionSecurityPolicy: 'none',
      });
    }
    if (key) cache.set(key, scope);
    else this.noClusterScopes.set(`${direction}|${clusterName}`, scope);
    return scope;
  }

  private readonly peerScopes = new Map<string, MetricScope>();

  /** Inbound requests over mutual TLS: the peer's SPIFFE id gives source_principal (bounded by the mesh's identities). */
  private inboundPeerScope(peer: string): MetricScope {
    let scope = this.peerScopes.get(peer);
    if (scope) return scope;
    const me = this.workload;
    const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(peer);
    const source = { ...workloadFromMetadata(undefined), principal: peer, namespace: m?.[1] ?? 'unknown', workload: m?.[2] ?? 'unknown' };
    scope = this.metrics.scope({
      reporter: 'destination',
      source,
      destination: me,
      destinationService: `${me.canonicalService}.${me.namespace}.svc.cluster.local`,
      destinationServiceName: me.canonicalService,
      destinationServiceNamespace: me.namespace,
      requestProtocol: 'http',
      connectionSecurityPolicy: 'mutual_tls',
    });
    if (this.peerScopes.size < 10_000) this.peerScopes.set(peer, scope);
    return scope;
  }

  /** Stop accepting, let in-flight requests finish for up to `ms`, then close everything. */
  async drain(ms: number): Promise<void> {
    this.draining = true;
    this.listeners.stopAccepting();
    // Keep-alive connections between requests close now; busy ones close after their response (connection: close).
    for (const c of this.sockets.values()) c?.closeIfIdle();
    const deadline = Date.now() + ms;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.tracing.flush(Math.max(0, Math.min(2000, deadline - Date.now())));
    this.close();
  }

  close(): void {
    this.listeners.stopAccepting();
    clearInterval(this.sweeper);
    for (const s of this.sockets.keys()) s.destroy();
    this.clusters.close();
    this.accessLog?.flush();
    this.tracing.close();
  }
}
