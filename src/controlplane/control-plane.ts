// The control plane assembled: config store (a watched directory) → registry → snapshot pipeline → discovery
// server on gRPC (15010 plaintext, 15012 TLS when a CA is attached), and the monitoring server (15014).
// `weft up` is a thin shell around startControlPlane; tests start it in-process with port 0.
import { hostname } from 'node:os';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { WeftError } from '../core/errors.ts';
import { formatKey } from '../config/api/resource.ts';
import { DirectoryStore, pipelineLoader, type ConfigStore, type RejectedError } from '../config/store/index.ts';
import { parseProxy, type Proxy } from '../discovery/proxy.ts';
import { createXdsMetrics } from '../discovery/serve/metrics.ts';
import { DiscoveryServer } from '../discovery/serve/server.ts';
import type { ProxyModel } from '../discovery/serve/types.ts';
import type { MeshSettings } from '../discovery/snapshot/mesh.ts';
import type { MeshSnapshot } from '../discovery/snapshot/snapshot.ts';
import { ServiceRegistry } from '../registry/registry.ts';
import { quietGrpcBindFailures } from './grpc-log.ts';
import { createMonitoringServer, type MonitoringSource } from './monitoring.ts';
import { MeshPipeline, type Generate } from './pipeline.ts';

export type Log = (level: 'debug' | 'info' | 'warn', message: string) => void;

/** What a CA attached to the control plane offers (src/ca/server: startCaForControlPlane). */
export interface AttachedCa {
  register(server: grpc.Server): void;
  tlsServerCredentials(): grpc.ServerCredentials;
  peerIdentity(call: grpc.ServerDuplexStream<unknown, unknown>): string | undefined;
  close(): Promise<void> | void;
}

export interface ControlPlaneOptions {
  configDir: string;
  /** Address to bind every port to. Default 127.0.0.1. */
  listen?: string;
  /** Plaintext xDS (+ CA) port. Default 15010; 0 picks a free one. */
  xdsPort?: number;
  /** TLS xDS + CA port, served when `ca` is given. Default 15012; 0 picks a free one. */
  xdsTlsPort?: number;
  /** Metrics and /debug port. Default 15014; 0 picks a free one. */
  monitoringPort?: number;
  debounceQuietMs?: number;
  debounceMaxMs?: number;
  mesh?: MeshSettings;
  domainSuffix?: string;
  /** Translation entry point (H7's generateResources by default, wired in by the caller). */
  generate: Generate;
  /** Generation cache key of a proxy under a snapshot (proxies with equal keys share generated output). */
  cacheKey?: (proxy: Proxy, snapshot: MeshSnapshot) => string | undefined;
  /** The CA, when the caller started one: 15012 serves xDS and its CSR service over its TLS. */
  ca?: AttachedCa;
  /** Grace period before an auto-registered WorkloadEntry is removed after its proxy disconnects, ms. */
  autoRegisterGraceMs?: number;
  log?: Log;
  /** Use this store instead of a DirectoryStore over configDir (tests). */
  store?: ConfigStore;
}

export interface ControlPlane {
  listen: string;
  xdsPort: number;
  xdsTlsPort: number | undefined;
  monitoringPort: number;
  server: DiscoveryServer<Proxy>;
  pipeline: MeshPipeline;
  registry: ServiceRegistry;
  store: ConfigStore;
  close(): Promise<void>;
}

/**
 * gRPC server options for thousands of long-lived xDS streams: channelz off (it keeps per-socket and per-call
 * records the control plane never reads), keepalive pings so dead proxies are noticed, and big enough messages
 * for a large mesh's CDS/EDS.
 */
const grpcServerOptions: grpc.ServerOptions = {
  'grpc.enable_channelz': 0,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_send_message_length': 256 << 20,
  'grpc.max_receive_message_length': 16 << 20,
};

function bindGrpc(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  quietGrpcBindFailures(); // the error below says it; grpc-js's own line about it would come first and say less
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (e, port) => {
      if (e) reject(new WeftError('WEFT_ERR_IO', `cannot listen on ${address}: ${e.message}; pick another port or stop what uses it`, { cause: e }));
      else resolve(port);
    });
  });
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Start the control plane. Rejects with WEFT_ERR_CONFIG_INVALID when the config directory holds invalid files. */
export async function startControlPlane(o: ControlPlaneOptions): Promise<ControlPlane> {
  const log: Log = o.log ?? (() => {});
  const listen = o.listen ?? '127.0.0.1';
  const domainSuffix = o.domainSuffix ?? 'cluster.local';
  const mesh = o.mesh ?? {};
  const store =
    o.store ??
    (await DirectoryStore.open(o.configDir, {
      load: pipelineLoader({ domainSuffix, rootNamespace: mesh.rootNamespace ?? 'istio-system' }),
      log: (level, m) => log(level === 'error' ? 'warn' : level, `config: ${m}`),
    }));
  const cleanups: Array<() => Promise<void> | void> = [() => store.close()];
  let closing: Promise<void> | undefined;
  // Close in reverse order of start; idempotent.
  const closeAll = (): Promise<void> =>
    (closing ??= (async () => {
      for (const c of cleanups.reverse()) await c();
    })());
  try {
    checkStartupConfig(store, o.configDir, log);

    const registry = new ServiceRegistry({ domainSuffix, ...(o.autoRegisterGraceMs !== undefined ? { autoRegisterGraceMs: o.autoRegisterGraceMs } : {}) });
    cleanups.push(() => registry.close());
    const metricsRegistry = new Registry();
    collectDefaultMetrics({ register: metricsRegistry });
    const xdsMetrics = createXdsMetrics(metricsRegistry);
    const model = proxyModel(registry, log);
    // The server starts with an empty view; the pipeline's first snapshot replaces it before any port opens.
    const server = new DiscoveryServer<Proxy>({
      model,
      view: { version: '', generate: () => [] },
      metrics: xdsMetrics,
      log,
      ...(o.ca ? { peerIdentity: o.ca.peerIdentity.bind(o.ca) } : {}),
    });
    const rebuildTime = new Histogram({ name: 'weft_snapshot_build_seconds', help: 'Time to build a mesh snapshot (full) or refresh its endpoints.', labelNames: ['kind'], buckets: [0.001, 0.01, 0.1, 0.5, 1, 5], registers: [metricsRegistry] });
    const pipeline = new MeshPipeline({
      store,
      registry,
      server,
      generate: o.generate,
      ...(o.cacheKey ? { cacheKey: o.cacheKey } : {}),
      mesh,
      domainSuffix,
      ...(o.debounceQuietMs !== undefined ? { debounceQuietMs: o.debounceQuietMs } : {}),
      ...(o.debounceMaxMs !== undefined ? { debounceMaxMs: o.debounceMaxMs } : {}),
      log,
      onRebuild: (kind, ms) => rebuildTime.observe({ kind }, ms / 1000),
    });
    cleanups.push(() => pipeline.close());
    server.update(pipeline.view(), { full: true, reasons: ['startup'], startMs: Date.now() });
    snapshotGauges(metricsRegistry, pipeline, server);

    const plain = new grpc.Server(grpcServerOptions);
    server.register(plain);
    // The CSR service is served over TLS only: bootstrap tokens must not travel in clear.
    cleanups.push(() => shutdownGrpc(plain));
    const xdsPort = await bindGrpc(plain, hostPort(listen, o.xdsPort ?? 15010), grpc.ServerCredentials.createInsecure());
    let xdsTlsPort: number | undefined;
    if (o.ca) {
      const tls = new grpc.Server(grpcServerOptions);
      server.register(tls);
      o.ca.register(tls);
      cleanups.push(() => shutdownGrpc(tls));
      xdsTlsPort = await bindGrpc(tls, hostPort(listen, o.xdsTlsPort ?? 15012), o.ca.tlsServerCredentials());
    }
    cleanups.push(() => server.closeAll());

    const http = createMonitoringServer(monitoringSource(metricsRegistry, server, pipeline, store, registry));
    const monitoringPort = await listenHttp(http, listen, o.monitoringPort ?? 15014);
    cleanups.push(() => closeHttp(http));
    return {
      listen,
      xdsPort,
      xdsTlsPort,
      monitoringPort,
      server,
      pipeline,
      registry,
      store,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Refuse invalid config at start-up (nothing is served half-configured); warn about duplicate keys. */
function checkStartupConfig(store: ConfigStore, configDir: string, log: Log): void {
  const rejected = store.rejections();
  if (rejected.length > 0) {
    const lines = rejected.flatMap((r) => r.errors.map((e) => `  ${r.file}${whereInFile(e)}: ${e.path ? e.path + ': ' : ''}${e.message}`));
    throw new WeftError('WEFT_ERR_CONFIG_INVALID', `the config directory ${configDir} has invalid files; fix them (or check them with 'weft validate -f ${configDir}') and start again:\n${lines.join('\n')}`);
  }
  for (const c of store.conflicts()) log('warn', `config: ${formatKey(c.key)} is defined in ${c.files.join(', ')}; ${c.winner} wins`);
}

/** ` (document 2, VirtualService/shop/reviews)`: the 1-based document number (as an editor counts them) and the resource, when known. */
function whereInFile(e: RejectedError): string {
  const parts = [...(e.document !== undefined ? [`document ${e.document + 1}`] : []), ...(e.key !== undefined ? [formatKey(e.key)] : [])];
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** Nodes become Proxies; a proxy naming a WorkloadGroup is auto-registered on connect (or refused with why). */
function proxyModel(registry: ServiceRegistry, log: Log): ProxyModel<Proxy> {
  return {
    parse: (node) => {
      const parsed = parseProxy({ id: node.id, metadata: node.metadata, locality: node.locality, user_agent_name: node.userAgentName });
      if (!parsed.ok) return parsed;
      const reg = registry.autoRegister(parsed.value);
      if (!reg.ok) return reg;
      if (reg.value !== undefined) log('info', `auto-registered ${reg.value.namespace}/${reg.value.name} for proxy ${node.id}`);
      return parsed;
    },
    disconnected: (proxy) => registry.disconnected(proxy),
  };
}

function snapshotGauges(registry: Registry, pipeline: MeshPipeline, server: DiscoveryServer<Proxy>): void {
  new Gauge({ name: 'weft_xds_inflight_bytes', help: 'Bytes of pushed xDS config not yet acknowledged (bounded by the push budget).', registers: [registry], collect() { this.set(server.inFlightBytes); } });
  new Gauge({ name: 'pilot_services', help: 'Total services known to pilot.', registers: [registry], collect() { this.set(pipeline.snapshot.services.length); } });
  new Gauge({ name: 'pilot_virt_services', help: 'Total virtual services known to pilot.', registers: [registry], collect() { this.set(pipeline.snapshot.virtualServices.length); } });
}

function monitoringSource(metrics: Registry, server: DiscoveryServer<Proxy>, pipeline: MeshPipeline, store: ConfigStore, registry: ServiceRegistry): MonitoringSource {
  return {
    registries: [metrics],
    connections: () => server.connections(),
    instance: `weft-${hostname()}-${process.pid}`,
    version: () => pipeline.version,
    ready: () => true,
    configz: () => ({ version: pipeline.version, resources: pipeline.snapshot.configs, rejections: store.rejections(), conflicts: store.conflicts() }),
    registryz: () => ({
      version: pipeline.version,
      services: pipeline.snapshot.services,
      endpoints: Object.fromEntries(pipeline.snapshot.endpointsByService),
      autoRegistered: registry.autoRegistered(),
    }),
  };
}

function listenHttp(server: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new WeftError('WEFT_ERR_IO', `cannot listen on ${hostPort(host, port)} (monitoring): ${e.message}; pick another --monitoring-port`, { cause: e })));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function shutdownGrpc(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
