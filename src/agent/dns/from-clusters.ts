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

/** A cluster member as the admin /clusters page lists it. */
export interface AdminEndpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * Read Envoy's text /clusters page (`<cluster>::<host>:<port>::<stat>::<value>` and
 * `<cluster>::<setting>::…` lines), as Weft's proxy admin serves it: the cluster names and the distinct
 * endpoint addresses.
 */
export function parseAdminClusters(text: string): { clusters: string[]; endpoints: AdminEndpoint[] } {
  const clusters = new Set<string>();
  const endpoints = new Map<string, AdminEndpoint>();
  for (const line of text.split('\n')) {
    const cut = line.indexOf('::');
    if (cut <= 0) continue;
    clusters.add(line.slice(0, cut));
    // An IPv6 member is bracketed and itself contains `::`, so match the member at the start of the rest.
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d+)::/.exec(line.slice(cut + 2));
    const host = m?.[1] ?? m?.[2];
    if (host && m?.[3]) endpoints.set(`${host}|${m[3]}`, { host, port: Number(m[3]) });
  }
  return { clusters: [...clusters], endpoints: [...endpoints.values()] };
}
