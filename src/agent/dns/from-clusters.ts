// The DNS proxy's services from what a sidecar already has: its outbound xDS cluster names
// (`outbound|9080|v1|reviews.default.svc.cluster.local`) name every service host it can reach, and the VIPs
// come from wherever the caller knows them (TCP listeners' addresses, the registry). A host without a VIP gets
// an auto-allocated one from the name table.

import { parseClusterName } from '../../core/names/cluster-name.ts';
import type { NameTableService } from './name-table.ts';

/**
 * One service per distinct outbound host among `clusterNames` (special clusters, inbound clusters and names that
 * do not parse are skipped), with its VIPs from `vips` (by host), else none. Sorted by host.
 */
export function servicesFromClusterNames(clusterNames: Iterable<string>, vips: ReadonlyMap<string, readonly string[]> = new Map()): NameTableService[] {
  const hosts = new Set<string>();
  for (const name of clusterNames) {
    const parsed = parseClusterName(name);
    if (parsed.ok && parsed.value.direction === 'outbound' && parsed.value.host !== '') hosts.add(parsed.value.host);
  }
  return [...hosts].sort().map((host) => ({ host, addresses: [...(vips.get(host) ?? [])] }));
}
