// The proxy's own workload ports: every port of a service that has an endpoint at one of the proxy's IPs
// (plus ports named in the proxy metadata), deduplicated by target port. Inbound listeners and clusters use these.
import { type Protocol, isHttpProtocol, parseProtocol } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';

export interface InboundPort {
  /** The port the application listens on (and the inbound cluster is named by). */
  targetPort: number;
  protocol: Protocol;
  /** Service hosts served on this port, for naming. */
  hosts: readonly string[];
}

export function inboundPorts(view: ProxyView): InboundPort[] {
  const ips = new Set(view.proxy.ipAddresses);
  const byPort = new Map<number, { protocol: Protocol; hosts: string[] }>();
  if (ips.size > 0) {
    for (const svc of view.snapshot.services) {
      for (const sp of svc.ports) {
        for (const ep of view.snapshot.endpointsByService.get(`${svc.hostname}|${sp.port}`) ?? []) {
          if (!ips.has(ep.address)) continue;
          const cur = byPort.get(ep.port);
          if (cur) {
            if (!cur.hosts.includes(svc.hostname)) cur.hosts.push(svc.hostname);
            // HTTP wins over TCP when two services disagree: HCM still proxies TCP-looking HTTP correctly.
            if (!isHttpProtocol(cur.protocol) && isHttpProtocol(sp.protocol)) cur.protocol = sp.protocol;
          } else byPort.set(ep.port, { protocol: sp.protocol, hosts: [svc.hostname] });
        }
      }
    }
  }
  for (const ing of view.sidecar?.spec.ingress ?? []) {
    const n = ing.port.number;
    if (n !== undefined && !byPort.has(n)) byPort.set(n, { protocol: ing.port.protocol ? parseProtocol(ing.port.protocol) : 'TCP', hosts: [] });
  }
  return [...byPort.entries()].sort((a, b) => a[0] - b[0]).map(([targetPort, v]) => ({ targetPort, protocol: v.protocol, hosts: v.hosts.sort() }));
}
