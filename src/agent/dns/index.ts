// The sidecar's DNS proxy: mesh names from a name table (with auto-allocated addresses for services without
// a VIP), everything else forwarded to the host's resolvers. See docs/capture.md.

export { startDnsProxy, answerFromTable } from './server.ts';
export type { DnsProxy, DnsProxyOptions, DnsProxyStats } from './server.ts';
export { buildNameTable, NameTable } from './name-table.ts';
export type { NameTableAnswer, NameTableOptions, NameTableService } from './name-table.ts';
export { allocateAddresses, AUTO_ALLOCATE_IPV4_RANGE, AUTO_ALLOCATE_IPV6_RANGE, isAutoAllocated } from './allocate.ts';
export type { AllocatedAddress } from './allocate.ts';
export { parseResolvConf, readResolvConf, workloadResolvConf } from './resolv-conf.ts';
export type { ResolvConf } from './resolv-conf.ts';
export { parseAdminClusters, servicesFromClusterNames } from './from-clusters.ts';
export type { AdminEndpoint } from './from-clusters.ts';
