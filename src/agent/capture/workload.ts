// Everything a captured workload needs before its sidecar and app start, in one call: the namespace, its
// resolv.conf, the DNS proxy (running in this process, so its upstreams are the host's; its sockets inside the
// namespace, owned by the proxy GID), the control plane relayed into the namespace, and Istio's rules with DNS
// capture. `weft run --capture` calls this, then starts the sidecar and the app inside. See docs/capture.md.

import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:net';
import { buildNameTable } from '../dns/name-table.ts';
import type { NameTable, NameTableService } from '../dns/name-table.ts';
import { readResolvConf, workloadResolvConf } from '../dns/resolv-conf.ts';
import { startDnsProxy } from '../dns/server.ts';
import type { DnsProxy } from '../dns/server.ts';
import { createWorkloadNamespace } from './namespace.ts';
import type { NamespaceSpawnOptions, WorkloadNamespace } from './namespace.ts';
import { relayIntoNamespace } from './netns-socket.ts';
import { CapturePorts, captureOptions } from './rules.ts';
import type { CaptureOptions } from './rules.ts';
import { assertCaptureSupported } from './support.ts';

/** What to prepare. */
export interface CapturedWorkloadOptions {
  /** Workload (pod) name; part of the namespace name. */
  readonly name: string;
  /** The workload's mesh namespace: its search path, and the services that answer to bare names. */
  readonly namespace: string;
  /** The services the DNS proxy answers (hosts and VIPs; none: auto-allocated). Replace later with setServices(). */
  readonly services: readonly NameTableService[];
  /** Ports on the host's 127.0.0.1 to relay into the namespace at the same address (the control plane's xDS and CA). */
  readonly relayPorts?: readonly number[];
  /** DNS upstreams for non-mesh names. Default: the host's /etc/resolv.conf name servers. */
  readonly upstreams?: readonly string[];
  /** Overrides of the capture rules (ports, exclusions). DNS capture of the namespace's name server is added. */
  readonly capture?: Partial<Omit<CaptureOptions, 'dns'>>;
  /** Cluster domain. Default cluster.local. */
  readonly domainSuffix?: string;
  /**
   * Let the sidecar reach workloads on the host's loopback (127.0.0.0/8 other than 127.0.0.1, e.g. `weft run`'s
   * 127.0.10.x) through relays at the same addresses inside the namespace (see setHostEndpoints). Adds one rule
   * that istio-iptables does not have: loopback traffic to 127.0.0.0/8 is never captured. Default true.
   */
  readonly hostLoopbackEndpoints?: boolean;
}

/** A prepared workload namespace. */
export interface CapturedWorkload {
  readonly ns: WorkloadNamespace;
  readonly dns: DnsProxy;
  /** The name table in force. */
  table(): NameTable;
  /** Answer from these services from now on (auto-allocated addresses are kept). */
  setServices(services: readonly NameTableService[]): void;
  /**
   * The mesh endpoints the sidecar may dial (e.g. from its admin /clusters): those on the host's loopback
   * (127.x.y.z other than 127.0.0.1) get a relay at the same address and port inside the namespace; relays for
   * endpoints no longer listed are closed. Resolves with the endpoints that could not be relayed, and why.
   */
  setHostEndpoints(endpoints: Iterable<{ host: string; port: number }>): Promise<string[]>;
  /** Start the sidecar inside the namespace with the proxy's GID (its traffic is not captured). */
  startSidecar(command: string, args: readonly string[], options?: NamespaceSpawnOptions): ChildProcess;
  /** Start the app inside the namespace (captured). */
  startApp(command: string, args: readonly string[], options?: NamespaceSpawnOptions): ChildProcess;
  /** Stop the DNS proxy and relays and remove the namespace. Never throws. Stop the processes first. */
  close(): Promise<void>;
}

/**
 * Prepare a captured workload. Throws (WEFT_ERR_PERMISSION / WEFT_ERR_UNAVAILABLE, every problem listed) when
 * this machine cannot capture; on any later failure everything prepared so far is removed first.
 */
export async function prepareCapturedWorkload(options: CapturedWorkloadOptions): Promise<CapturedWorkload> {
  await assertCaptureSupported();
  const rules = captureOptions(options.capture);
  const proxyGid = rules.proxyGids[0];
  const ns = await createWorkloadNamespace({ name: options.name });
  const relays: Server[] = [];
  const endpointRelays = new Map<string, Server>();
  let dns: DnsProxy | undefined;
  const closeServer = (r: Server): Promise<void> => new Promise<void>((resolve) => r.close(() => resolve()));
  const close = async (): Promise<void> => {
    await Promise.all([...relays, ...endpointRelays.values()].map(closeServer));
    endpointRelays.clear();
    await dns?.close().catch(() => undefined);
    await ns.destroy();
  };
  try {
    const tableOf = (services: readonly NameTableService[], previous?: NameTable): NameTable =>
      buildNameTable({ services, namespace: options.namespace, domainSuffix: options.domainSuffix, previous });
    let table = tableOf(options.services);
    ns.writeEtcFile('resolv.conf', workloadResolvConf({ nameserver: ns.hostIp, namespace: options.namespace, domainSuffix: options.domainSuffix }));
    const upstreams = options.upstreams ?? readResolvConf().nameservers;
    const started = await startDnsProxy({ table, upstreams, netns: ns.netns, port: CapturePorts.dnsProxy, ownerGid: proxyGid });
    dns = started;
    for (const port of options.relayPorts ?? []) relays.push(await relayIntoNamespace(ns.netns, { host: '127.0.0.1', port }, { host: '127.0.0.1', port }));
    const loopback = options.hostLoopbackEndpoints ?? true;
    await ns.applyCapture({
      ...rules,
      dns: { mode: 'servers', port: CapturePorts.dnsProxy, servers: [ns.hostIp] },
      loopbackPassthroughCidrs: loopback ? [...rules.loopbackPassthroughCidrs, '127.0.0.0/8'] : rules.loopbackPassthroughCidrs,
    });
    const setHostEndpoints = async (endpoints: Iterable<{ host: string; port: number }>): Promise<string[]> => {
      if (!loopback) return [];
      const wanted = new Map<string, { host: string; port: number }>();
      for (const e of endpoints) if (/^127\./.test(e.host) && e.host !== '127.0.0.1') wanted.set(`${e.host}:${e.port}`, e);
      for (const [key, relay] of endpointRelays) {
        if (!wanted.has(key)) {
          endpointRelays.delete(key);
          await closeServer(relay);
        }
      }
      const failed: string[] = [];
      for (const [key, e] of wanted) {
        if (endpointRelays.has(key)) continue;
        try {
          endpointRelays.set(key, await relayIntoNamespace(ns.netns, e, e));
        } catch (err) {
          failed.push(`${key}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return failed;
    };
    return {
      ns,
      dns: started,
      table: () => table,
      setServices: (services) => {
        table = tableOf(services, table);
        started.setTable(table);
      },
      setHostEndpoints,
      startSidecar: (command, args, spawnOptions = {}) => ns.exec(command, args, { ...spawnOptions, gid: proxyGid }),
      startApp: (command, args, spawnOptions = {}) => ns.exec(command, args, spawnOptions),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
