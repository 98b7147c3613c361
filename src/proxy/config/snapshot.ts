// The proxy's compiled configuration at one moment: listeners and route tables, immutable once built.
// Clusters are runtime objects held by the ClusterManager (they own connection pools), looked up by name.
import type { ListenerConfig, HcmConfig, TcpAction } from '../listener/listener-config.ts';
import type { RouteTable } from '../router/route-table.ts';

export interface ProxySnapshot {
  listeners: ReadonlyMap<string, ListenerConfig>;
  routes: ReadonlyMap<string, RouteTable>;
  /**
   * HTTP connection managers of listeners that are not bound to their own port (Istio's per-service outbound
   * listeners such as `0.0.0.0_9080`), by port: how explicit-mode requests find their routes.
   */
  httpByPort: ReadonlyMap<number, HcmConfig>;
  /** TCP proxy targets by port for the same listeners (explicit-mode CONNECT to TCP services). */
  tcpByPort: ReadonlyMap<number, TcpAction>;
  /** Istio's `virtualInbound` HTTP chains by destination port, and its port-less HTTP chain. */
  inboundHttpByPort: ReadonlyMap<number, HcmConfig>;
  inboundHttpDefault: HcmConfig | undefined;
  /** The same for chains matching transport_protocol "tls" (mutual TLS from peer sidecars). */
  inboundTlsHttpByPort: ReadonlyMap<number, HcmConfig>;
  /** `virtualInbound` tcp_proxy chains by destination port: plaintext (raw_buffer or any) and mutual TLS. */
  inboundTcpByPort: ReadonlyMap<number, TcpAction>;
  inboundTlsTcpByPort: ReadonlyMap<number, TcpAction>;
}

export const emptySnapshot: ProxySnapshot = {
  listeners: new Map(),
  routes: new Map(),
  httpByPort: new Map(),
  tcpByPort: new Map(),
  inboundHttpByPort: new Map(),
  inboundHttpDefault: undefined,
  inboundTlsHttpByPort: new Map(),
  inboundTcpByPort: new Map(),
  inboundTlsTcpByPort: new Map(),
};

/** Istio's name for the inbound capture listener (15006). */
export const VIRTUAL_INBOUND = 'virtualInbound';

export function buildSnapshot(listeners: ReadonlyMap<string, ListenerConfig>, routes: ReadonlyMap<string, RouteTable>): ProxySnapshot {
  const httpByPort = new Map<number, HcmConfig>();
  const tcpByPort = new Map<number, TcpAction>();
  // Prefer the wildcard-address listener for a port (0.0.0.0_9080) over per-VIP ones.
  const ordered = [...listeners.values()].sort((a, b) => Number(b.address === '0.0.0.0') - Number(a.address === '0.0.0.0'));
  for (const l of ordered) {
    if (l.bindToPort || l.name === VIRTUAL_INBOUND) continue;
    for (const c of [...l.chains, ...(l.defaultChain ? [l.defaultChain] : [])]) {
      if (c.action.kind === 'http' && !httpByPort.has(l.port)) httpByPort.set(l.port, c.action.hcm);
      if (c.action.kind === 'tcp' && !tcpByPort.has(l.port)) tcpByPort.set(l.port, c.action);
    }
  }
  const inboundHttpByPort = new Map<number, HcmConfig>();
  let inboundHttpDefault: HcmConfig | undefined;
  const inboundTlsHttpByPort = new Map<number, HcmConfig>();
  const inboundTcpByPort = new Map<number, TcpAction>();
  const inboundTlsTcpByPort = new Map<number, TcpAction>();
  const inbound = listeners.get(VIRTUAL_INBOUND);
  if (inbound) {
    for (const c of [...inbound.chains, ...(inbound.defaultChain ? [inbound.defaultChain] : [])]) {
      if (c.action.kind === 'tcp') {
        // The port-less default chain (InboundPassthroughCluster) is not used in explicit mode.
        if (c.destinationPort === undefined) continue;
        const into = c.transportProtocol === 'tls' ? inboundTlsTcpByPort : inboundTcpByPort;
        if (!into.has(c.destinationPort)) into.set(c.destinationPort, c.action);
        continue;
      }
      if (c.action.kind === 'http' && c.transportProtocol === 'tls' && c.destinationPort !== undefined) {
        if (!inboundTlsHttpByPort.has(c.destinationPort)) inboundTlsHttpByPort.set(c.destinationPort, c.action.hcm);
        continue;
      }
      if (c.action.kind !== 'http' || (c.transportProtocol !== undefined && c.transportProtocol !== 'raw_buffer')) continue;
      if (c.destinationPort === undefined) inboundHttpDefault ??= c.action.hcm;
      else if (!inboundHttpByPort.has(c.destinationPort)) inboundHttpByPort.set(c.destinationPort, c.action.hcm);
    }
  }
  return { listeners, routes, httpByPort, tcpByPort, inboundHttpByPort, inboundHttpDefault, inboundTlsHttpByPort, inboundTcpByPort, inboundTlsTcpByPort };
}
