// Which cluster an explicit-mode CONNECT goes to: the route a request to that authority would take (routes are
// matched with path "/"), else the TCP proxy listener for the port, else PassthroughCluster when the mesh allows
// traffic to unknown destinations (Istio's outboundTrafficPolicy ALLOW_ANY).
import { PassthroughCluster } from '../../core/names/cluster-name.ts';
import { pickTcpCluster, type HcmConfig } from '../listener/listener-config.ts';
import { pickCluster } from '../router/route-action.ts';
import { matchRoute, selectVirtualHost } from '../router/route-table.ts';
import type { ProxyServices } from './services.ts';

export function connectCluster(services: ProxyServices, hcm: HcmConfig | undefined, authority: string, port: number): string | undefined {
  const snap = services.snapshot;
  if (hcm) {
    const table = hcm.route.kind === 'inline' ? hcm.route.table : snap.routes.get(hcm.route.name);
    const vh = table ? selectVirtualHost(table, authority) : undefined;
    const route = vh ? matchRoute(vh, { authority, path: '/', query: '', method: 'CONNECT', scheme: 'http', headers: [] }) : undefined;
    if (route?.action.kind === 'cluster') return pickCluster(route.action, services.random());
  }
  const tcp = snap.tcpByPort.get(port);
  if (tcp) return pickTcpCluster(tcp, () => services.random());
  return services.clusters.get(PassthroughCluster) ? PassthroughCluster : undefined;
}
