// The proxy agent (Istio's pilot-agent role): starts one proxy process's pieces — the engine with its own
// listeners (sidecar: explicit outbound + inbound; router: only LDS listeners), the xDS client or static resources,
// admin, readiness and Prometheus endpoints — and drains them on shutdown.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type * as http from 'node:http';
import { WeftError } from '../core/errors.ts';
import { TypeUrl } from '../xds/protos.ts';
import { describeErrors } from '../proxy/config/config-state.ts';
import { AccessLog, type AccessLogEncoding } from '../proxy/access-log/access-log.ts';
import { readiness, startAdminServer, type AdminContext, type LogLevel } from '../proxy/admin/admin-server.ts';
import { renderProxyPrometheus } from '../proxy/admin/admin-stats.ts';
import { ProxyEngine } from '../proxy/engine.ts';
import { AdsClient, type XdsProtocol } from '../proxy/xds-client/ads-client.ts';
import { nodeId, nodeMetadata, type NodeIdentity } from '../proxy/xds-client/node-info.ts';
import type { WorkloadInfo } from '../proxy/stats/istio-metrics.ts';
import { SecretStore } from '../proxy/tls/secrets.ts';
import { formatSpiffeId } from '../core/names/spiffe.ts';
import { IdentityManager, type WorkloadIdentity } from './identity/manager.ts';
import { describeRefusal } from './identity/refusal.ts';
import type { AppProbes } from './status/app-probes.ts';
import { startStatusServer, type AppMetricsTarget } from './status/status-server.ts';

export interface ProxyAgentOptions {
  node: NodeIdentity;
  /** host:port of the control plane; undefined with a bootstrap file means static config only. */
  discoveryAddress: string | undefined;
  /** Root CA (PEM) to verify the control plane over TLS (15012); plaintext (15010) when absent. */
  discoveryRootCa?: Buffer | undefined;
  /** ADS variant: state of the world or delta (DeltaAggregatedResources). Default sotw. */
  xdsProtocol?: XdsProtocol | undefined;
  /** Static resources (Envoy bootstrap static_resources) loaded before xDS. */
  bootstrapFile?: string | undefined;
  /** Ports; 0 picks a free port, -1 disables the listener. */
  ports: { admin: number; outbound: number; inbound: number; stats: number; readiness: number };
  /** More inbound ports (a workload serving several ports), each bound on inboundAddress like the inbound port. */
  extraInboundPorts?: readonly number[] | undefined;
  /** The status port (Istio's 15020): merged metrics (proxy + app + agent), /healthz/ready, app probes. */
  status?: { port: number; address?: string; appMetrics?: AppMetricsTarget | undefined; probes: AppProbes } | undefined;
  /** Address for the outbound (explicit proxy) listener; the app is local, so loopback by default. */
  outboundAddress: string;
  inboundAddress: string;
  drainMs: number;
  accessLog?: { path: string; encoding: AccessLogEncoding } | undefined;
  version: string;
  /** Workload identity from the CA (Istio's CSR API): enables inbound mTLS and ISTIO_MUTUAL upstreams. */
  identity?: { caAddress: string; caRootsPem: string; trustDomain: string; token: () => string | undefined | Promise<string | undefined> } | undefined;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface ProxyAgent {
  engine: ProxyEngine;
  xds: AdsClient | undefined;
  /** Bound ports (after 0 was resolved). */
  ports: { admin?: number; outbound?: number; inbound?: number; stats?: number; readiness?: number; status?: number };
  /** The extra inbound ports, bound (0 resolved), in the order given. */
  extraInboundPorts: number[];
  ready(): boolean;
  /**
   * Resolves true once ready() is (the first full configuration and, with an identity, the first certificate: what
   * /healthz/ready reports), false when the proxy stops before that.
   */
  whenReady(): Promise<boolean>;
  /** Stop accepting, let requests finish (up to drainMs), close everything. */
  shutdown(): Promise<void>;
}

/** The proxy's own ports by role; the CLI names each role's flag (--admin-port …) in its messages. */
export type PortRole = 'admin' | 'outbound' | 'inbound' | 'stats' | 'readiness' | 'status';

/**
 * A port the proxy was asked to serve could not be bound. Fatal at start-up, default port or not, as Envoy treats its
 * admin and bootstrap listeners (15000, 15021, 15090): a proxy quietly running without its readiness, metrics or
 * status port is found out only when a probe or a scrape fails somewhere else.
 */
export class PortBindError extends WeftError {
  readonly role: PortRole;
  readonly address: string;
  readonly port: number;
  constructor(role: PortRole, address: string, port: number, cause: unknown) {
    super('WEFT_ERR_IO', `cannot listen on ${address}:${port}, the ${role} port: ${bindFailure(cause)}`, { cause });
    this.name = 'PortBindError';
    this.role = role;
    this.address = address;
    this.port = port;
  }
}

function bindFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return 'it is in use (EADDRINUSE) — another proxy or program on this machine holds it';
    case 'EACCES':
      return 'permission denied (EACCES) — ports below 1024 need root or CAP_NET_BIND_SERVICE';
    case 'EADDRNOTAVAIL':
      return 'the address is not one of this machine\'s (EADDRNOTAVAIL)';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

export async function startProxyAgent(o: ProxyAgentOptions, onQuit: () => void): Promise<ProxyAgent> {
  const n = o.node;
  const workload: WorkloadInfo = {
    workload: n.labels['app'] ? `${n.labels['app']}-${n.labels['version'] ?? 'v1'}` : n.name,
    namespace: n.namespace,
    app: n.labels['app'] ?? 'unknown',
    version: n.labels['version'] ?? 'unknown',
    canonicalService: n.labels['service.istio.io/canonical-name'] ?? n.labels['app'] ?? n.name,
    canonicalRevision: n.labels['service.istio.io/canonical-revision'] ?? n.labels['version'] ?? 'latest',
    principal: `spiffe://cluster.local/ns/${n.namespace}/sa/${n.serviceAccount}`,
    cluster: n.clusterId ?? 'Kubernetes',
  };
  let logStream: Writable | undefined;
  if (o.accessLog) logStream = o.accessLog.path === '/dev/stdout' ? process.stdout : createWriteStream(o.accessLog.path, { flags: 'a' });
  const engine = new ProxyEngine({ workload, accessLog: logStream ? new AccessLog(logStream, o.accessLog!.encoding) : undefined, log: o.log, nodeId: nodeId(n), version: o.version });
  const ports: ProxyAgent['ports'] = {};
  const extraInboundPorts: number[] = [];
  const servers: http.Server[] = [];
  let identity: IdentityManager | undefined;
  let xds: AdsClient | undefined;
  // A failed start leaves nothing open (listeners, CSR, xDS stream): the process can exit with its error.
  const abandon = (): void => {
    engine.close();
    xds?.stop();
    identity?.close();
    for (const s of servers) s.close();
    if (logStream && logStream !== process.stdout) logStream.end();
  };
  const bind = async <T>(role: PortRole, address: string, port: number, listen: () => Promise<T>): Promise<T> => {
    try {
      return await listen();
    } catch (e) {
      abandon();
      throw new PortBindError(role, address, port, e);
    }
  };
  if (n.type === 'sidecar') {
    if (o.ports.outbound >= 0) {
      ports.outbound = await bind('outbound', o.outboundAddress, o.ports.outbound, () => engine.listeners.bindOwn('virtualOutbound', o.outboundAddress, o.ports.outbound, 'explicit', 'outbound'));
      engine.reserved.add(ports.outbound);
    }
    for (const [i, p] of [o.ports.inbound, ...(o.extraInboundPorts ?? [])].entries()) {
      if (p < 0) continue;
      const bound = await bind('inbound', o.inboundAddress, p, () => engine.listeners.bindOwn(i === 0 ? 'virtualInbound' : `virtualInbound_${p}`, o.inboundAddress, p, 'inbound', 'inbound'));
      if (i === 0) ports.inbound = bound;
      else extraInboundPorts.push(bound);
      engine.reserved.add(bound);
    }
  }
  const ready = (): boolean => (xds ? xds.ready : staticReady) && (identity === undefined || identity.current() !== undefined);
  const logLevel: { value: LogLevel } = { value: 'info' };
  const ctx: AdminContext = {
    engine,
    xds: undefined,
    isReady: ready,
    notReadyReason: () =>
      xds && !xds.ready ? 'waiting for the first configuration from the control plane' : 'waiting for the workload certificate from the CA (the proxy log says why it has none)',
    node: { id: nodeId(n), metadata: nodeMetadata(n, o.version) },
    version: o.version,
    startedAt: Date.now(),
    logLevel,
    quit: onQuit,
  };
  // Every port is bound before the proxy registers anywhere (CSR, xDS): one that cannot be is fatal, see PortBindError.
  const bindAdmin = async (role: 'admin' | 'readiness' | 'prometheus', address: string, port: number): Promise<number | undefined> => {
    if (port < 0) return undefined;
    const s = await bind(role === 'prometheus' ? 'stats' : role, address, port, () => startAdminServer(role, address, port, ctx));
    servers.push(s.server);
    return s.port;
  };
  ports.admin = await bindAdmin('admin', '127.0.0.1', o.ports.admin);
  ports.readiness = await bindAdmin('readiness', '0.0.0.0', o.ports.readiness);
  ports.stats = await bindAdmin('prometheus', '0.0.0.0', o.ports.stats);
  if (o.status && o.status.port >= 0) {
    const status = o.status;
    const address = status.address ?? '0.0.0.0';
    const s = await bind('status', address, status.port, () =>
      startStatusServer({
        address,
        port: status.port,
        ready: () => readiness(ctx),
        proxyMetrics: () => renderProxyPrometheus(engine, xds),
        appMetrics: status.appMetrics,
        probes: status.probes,
        log: o.log,
      }),
    );
    servers.push(s.server);
    ports.status = s.port;
  }
  let staticReady = false;
  if (o.bootstrapFile) {
    // Loaded only for a static bootstrap file: it brings the YAML parser (~3 MB), which an xDS-only proxy never needs.
    const { loadBootstrap } = await import('../proxy/config/bootstrap.ts');
    let r: ReturnType<typeof loadBootstrap>;
    try {
      r = loadBootstrap(o.bootstrapFile);
    } catch (e) {
      abandon();
      throw e;
    }
    const errors = [
      ...engine.apply(TypeUrl.cluster, r.clusters, 'static'),
      ...engine.apply(TypeUrl.endpoint, r.endpoints, 'static'),
      ...engine.apply(TypeUrl.listener, r.listeners, 'static'),
      ...engine.apply(TypeUrl.route, r.routes, 'static'),
    ];
    if (errors.length > 0) {
      abandon();
      throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${o.bootstrapFile}: rejected resources:\n${describeErrors(errors)}`);
    }
    staticReady = true;
  }
  if (o.identity) {
    const secrets = new SecretStore();
    const put = (id: WorkloadIdentity): void => secrets.update({ certChainPem: id.certChainPem, keyPem: id.keyPem, rootsPem: id.rootsPem, spiffeId: formatSpiffeId(id.spiffeId) });
    const manager = new IdentityManager({
      caAddress: o.identity.caAddress,
      caRootsPem: o.identity.caRootsPem,
      token: o.identity.token,
      identity: { trustDomain: o.identity.trustDomain, namespace: n.namespace, serviceAccount: n.serviceAccount },
      log: (line, level) => o.log(level ?? 'info', line),
    });
    identity = manager;
    manager.on('rotated', put);
    // Each failed attempt is logged by the manager; a refused identity is explained once (it needs the operator).
    manager.on('refused', (r) => o.log('error', describeRefusal(r)));
    engine.setSecrets(secrets);
    // Certificates arrive in the background (the CA may be late); until then mTLS connections fail with UF and the
    // proxy is not ready. start() only rejects when the proxy stops first: nothing to report then.
    manager.start().then(put, () => undefined);
  }
  if (o.discoveryAddress) {
    xds = new AdsClient({
      address: o.discoveryAddress,
      tls: o.discoveryRootCa ? { rootCa: o.discoveryRootCa } : undefined,
      protocol: o.xdsProtocol,
      node: n,
      sink: engine,
      version: o.version,
      log: o.log,
    });
    ctx.xds = xds;
    xds.start();
  }
  let stopped = false;
  return {
    engine,
    xds,
    ports,
    extraInboundPorts,
    ready,
    whenReady: async () => {
      const certificate = identity?.start().then(() => true, () => false) ?? true;
      const [, gotCertificate] = await Promise.all([xds?.whenReady(), certificate]);
      return gotCertificate && ready();
    },
    shutdown: async () => {
      if (stopped) return;
      stopped = true;
      await engine.drain(o.drainMs);
      xds?.stop();
      identity?.close();
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
      if (logStream && logStream !== process.stdout) logStream.end();
    },
  };
}
