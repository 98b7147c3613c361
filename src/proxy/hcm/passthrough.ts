// The route an explicit-mode request takes when no listener serves its port and the mesh allows unknown
// destinations (PassthroughCluster, an ORIGINAL_DST cluster): straight to the host:port the app asked for.
import { PassthroughCluster } from '../../core/names/cluster-name.ts';
import type { HcmConfig } from '../listener/listener-config.ts';
import { noHeaderOps } from '../router/route-action.ts';
import type { Route } from '../router/route-table.ts';

export const PASSTHROUGH_ROUTE: Route = {
  name: 'allow_any',
  path: { kind: 'prefix', value: '', caseSensitive: true },
  headers: [],
  query: [],
  metadata: [],
  action: {
    kind: 'cluster',
    clusters: [PassthroughCluster],
    cumulative: [1],
    totalWeight: 1,
    timeoutMs: 0,
    retry: undefined,
    prefixRewrite: undefined,
    regexRewrite: undefined,
    hostRewrite: undefined,
    hashPolicies: [],
    mirrors: [],
  },
  requestHeaders: noHeaderOps,
  responseHeaders: noHeaderOps,
  fault: undefined,
  cors: undefined,
};

export const PASSTHROUGH_HCM: HcmConfig = {
  statPrefix: 'PassthroughCluster',
  route: { kind: 'rds', name: '' },
  useRemoteAddress: false,
  xffNumTrustedHops: 0,
  serverName: 'envoy',
  serverHeaderTransformation: 'pass_through',
  generateRequestId: true,
  streamIdleTimeoutMs: 300_000,
  idleTimeoutMs: 3_600_000,
  maxHeaderBytes: 60 * 1024,
  requestHeadersTimeoutMs: 60_000,
  maxHeadersCount: 100,
  ignoredFilters: [],
  security: undefined,
  pathNormalization: 'NONE',
};
