// The proxy's own workload ports: every port of a service that has an endpoint at one of the proxy's IPs
// (plus ports named in the proxy metadata), deduplicated by target port. Inbound listeners and clusters use these.
import { type Endpoint, type Protocol, autoRegisteredName, isHttpProtocol, labelsMatch, parseProtocol } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';

export interface InboundPort {
  /** The port the application listens on (and the inbound cluster is named by). */
  targetPort: number;
  protocol: Protocol;
  /** Service hosts served on this port, for naming. */
  hosts: readonly string[];
}

/**
 * The endpoints that are this proxy's own workload: at one of its IPs, and — when several workloads share an address,
 * as they can on loopback in one-machine mode — its auto-registered entry or those whose labels include the proxy's.
 * Only fields in the proxy's class and its addresses are read (never its name), so proxies that the server's
 * generation cache treats as equal get equal inbound config.
 */
function ownEndpoints(view: ProxyView): Array<{ ep: Endpoint; protocol: Protocol; host: string }> {
  const p = view.proxy;
  const atIp: Array<{ ep: Endpoint; protocol: Protocol; host: string }> = [];
  for (const ip of new Set(p.ipAddresses)) {
    for (const ep of view.snapshot.endpointsByAddress.get(ip) ?? []) {
      const svc = view.snapshot.servicesByHost.get(ep.serviceHost)?.find((s) => s.ports.some((sp) => sp.port === ep.servicePort));
      const sp = svc?.ports.find((x) => x.port === ep.servicePort);
      if (sp) atIp.push({ ep, protocol: sp.protocol, host: ep.serviceHost });
    }
  }
  const autoNames = new Set(p.autoRegisterGroup !== '' ? p.ipAddresses.map((ip) => autoRegisteredName(p.autoRegisterGroup, ip)) : []);
  const hasLabels = Object.keys(p.labels).length > 0;
  const mine = atIp.filter((x) => autoNames.has(x.ep.workloadName) || (hasLabels && labelsMatch(p.labels, x.ep.labels)));
  return mine.length > 0 ? mine : atIp;
}

export function inboundPorts(view: ProxyView): InboundPort[] {
  const byPort = new Map<number, { protocol: Protocol; hosts: string[] }>();
  for (const { ep, protocol, host } of ownEndpoints(view)) {
    const cur = byPort.get(ep.port);
    if (!cur) {
      byPort.set(ep.port, { protocol, hosts: [host] });
      continue;
    }
    if (!cur.hosts.includes(host)) cur.hosts.push(host);
    // HTTP wins over TCP when two services disagree: HCM still proxies TCP-looking HTTP correctly.
    if (!isHttpProtocol(cur.protocol) && isHttpProtocol(protocol)) cur.protocol = protocol;
  }
  for (const ing of view.sidecar?.spec.ingress ?? []) {
    const n = ing.port.number;
    if (n !== undefined && !byPort.has(n)) byPort.set(n, { protocol: ing.port.protocol ? parseProtocol(ing.port.protocol) : 'TCP', hosts: [] });
  }
  return [...byPort.entries()].sort((a, b) => a[0] - b[0]).map(([targetPort, v]) => ({ targetPort, protocol: v.protocol, hosts: v.hosts.sort() }));
}
