// What each proxy was sent, acked and nacked, in the shapes /debug/syncz and /debug/config_dump serve and
// `weft proxy-status` / `weft proxy-config` render. Status per type follows istioctl: SYNCED (acked the last
// response), STALE (sent, not yet acked), NOT SENT, NACKED (rejected the last response; the error is kept).
import { TypeUrl } from '../../xds/protos.ts';
import type { ConnectionSnapshot } from './server.ts';
import type { WatchedType } from './watch.ts';

export type SyncState = 'SYNCED' | 'STALE' | 'NOT SENT' | 'NACKED';

export interface TypeSync {
  status: SyncState;
  /** Version of the last response sent. */
  sent_version?: string;
  sent_nonce?: string;
  acked_version?: string;
  acked_nonce?: string;
  /** The proxy's error_detail.message, for NACKED. */
  error?: string;
  /** Number of resources the proxy holds (as sent). */
  resources: number;
  /** Subscribed names, or ['*'] for a wildcard subscription. */
  subscribed: string[];
}

/** One entry of /debug/syncz. */
export interface ProxySync {
  proxy: string;
  conn_id: string;
  cluster_id: string;
  proxy_type: string;
  proxy_version: string;
  protocol: 'sotw' | 'delta';
  peer: string;
  connected_at: string;
  cds: TypeSync;
  lds: TypeSync;
  eds: TypeSync;
  rds: TypeSync;
  sds: TypeSync;
}

export function typeSync(w: WatchedType | undefined): TypeSync {
  if (w === undefined || w.sentNonce === undefined) {
    return { status: 'NOT SENT', resources: 0, subscribed: w === undefined ? [] : [...(w.requestedNames()?.list ?? ['*'])] };
  }
  const base = {
    sent_version: w.sentVersion ?? '',
    sent_nonce: w.sentNonce,
    ...(w.ackedVersion !== undefined ? { acked_version: w.ackedVersion, acked_nonce: w.ackedNonce ?? '' } : {}),
    resources: w.sent.size,
    subscribed: [...(w.requestedNames()?.list ?? ['*'])],
  };
  if (w.nack !== undefined && w.nack.nonce === w.sentNonce) return { status: 'NACKED', ...base, error: w.nack.message };
  if (w.ackedNonce === w.sentNonce) return { status: 'SYNCED', ...base };
  return { status: 'STALE', ...base };
}

function meta(c: ConnectionSnapshot, key: string, fallback: string): string {
  const v = c.info.node.metadata[key];
  return typeof v === 'string' && v !== '' ? v : fallback;
}

export function proxySync(c: ConnectionSnapshot): ProxySync {
  const id = c.info.node.id;
  return {
    proxy: id,
    conn_id: c.info.connId,
    cluster_id: meta(c, 'CLUSTER_ID', 'Kubernetes'),
    proxy_type: id.split('~')[0] ?? '',
    proxy_version: meta(c, 'ISTIO_VERSION', c.info.node.userAgentVersion || 'unknown'),
    protocol: c.info.protocol,
    peer: c.info.peer.address,
    connected_at: c.info.connectedAt.toISOString(),
    cds: typeSync(c.types.get(TypeUrl.cluster)),
    lds: typeSync(c.types.get(TypeUrl.listener)),
    eds: typeSync(c.types.get(TypeUrl.endpoint)),
    rds: typeSync(c.types.get(TypeUrl.route)),
    sds: typeSync(c.types.get(TypeUrl.secret)),
  };
}

const dumpTypes = {
  cluster: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  listener: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  route: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  endpoint: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
} as const;

function sentEntries(w: WatchedType | undefined): Array<[string, { version: string; resource: Record<string, unknown> }]> {
  if (w === undefined) return [];
  const out: Array<[string, { version: string; resource: Record<string, unknown> }]> = [];
  for (const [name, s] of [...w.sent.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (s.resource !== undefined) out.push([name, { version: w.ackedVersion ?? w.sentVersion ?? '', resource: s.resource }]);
  }
  return out;
}

/**
 * The config a proxy holds as Envoy's /config_dump would show it (dynamic resources only), built from what the
 * control plane last sent on the connection. Resources are plain objects with Envoy proto field names.
 */
export function configDump(c: ConnectionSnapshot): { configs: Array<Record<string, unknown>> } {
  const t = c.types;
  return {
    configs: [
      {
        '@type': dumpTypes.cluster,
        version_info: t.get(TypeUrl.cluster)?.sentVersion ?? '',
        dynamic_active_clusters: sentEntries(t.get(TypeUrl.cluster)).map(([, s]) => ({ version_info: s.version, cluster: { '@type': TypeUrl.cluster, ...s.resource } })),
      },
      {
        '@type': dumpTypes.listener,
        version_info: t.get(TypeUrl.listener)?.sentVersion ?? '',
        dynamic_listeners: sentEntries(t.get(TypeUrl.listener)).map(([name, s]) => ({ name, active_state: { version_info: s.version, listener: { '@type': TypeUrl.listener, ...s.resource } } })),
      },
      {
        '@type': dumpTypes.route,
        dynamic_route_configs: sentEntries(t.get(TypeUrl.route)).map(([, s]) => ({ version_info: s.version, route_config: { '@type': TypeUrl.route, ...s.resource } })),
      },
      {
        '@type': dumpTypes.endpoint,
        dynamic_endpoint_configs: sentEntries(t.get(TypeUrl.endpoint)).map(([, s]) => ({ version_info: s.version, endpoint_config: { '@type': TypeUrl.endpoint, ...s.resource } })),
      },
    ],
  };
}
