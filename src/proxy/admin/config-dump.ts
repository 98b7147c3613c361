// /config_dump in Envoy's shape (envoy.admin.v3.*ConfigDump): the bootstrap node, then dynamic listeners, clusters,
// route configs and endpoints as received (raw xDS objects) with the version that was accepted, plus the last
// rejection per type so an operator can see why a push was NACKed.
import { TypeUrl } from '../../xds/protos.ts';
import type { AdminContext } from './admin-server.ts';

export function renderConfigDump(ctx: AdminContext, resource: string | undefined): Record<string, unknown> {
  const st = ctx.engine.state;
  const rejected = (t: string): unknown => {
    const r = st.rejected.get(t);
    return r ? { version_info: r.version, errors: r.errors.map((e) => ({ name: e.name, details: e.errors })) } : undefined;
  };
  const configs: Record<string, unknown>[] = [
    { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: { id: ctx.node.id, metadata: ctx.node.metadata, user_agent_name: 'weft', user_agent_version: ctx.version } } },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      version_info: st.versions.get(TypeUrl.listener) ?? '',
      dynamic_listeners: [...st.listeners.values()].map((e) => ({ name: e.value.name, active_state: { version_info: e.version, listener: { '@type': TypeUrl.listener, ...e.raw } } })),
      last_rejected: rejected(TypeUrl.listener),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      version_info: st.versions.get(TypeUrl.cluster) ?? '',
      dynamic_active_clusters: [...st.clusters.values()].map((e) => ({ version_info: e.version, cluster: { '@type': TypeUrl.cluster, ...e.raw } })),
      last_rejected: rejected(TypeUrl.cluster),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      dynamic_route_configs: [...st.routes.values()].map((e) => ({ version_info: e.version, route_config: { '@type': TypeUrl.route, ...e.raw } })),
      last_rejected: rejected(TypeUrl.route),
    },
    {
      '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
      dynamic_endpoint_configs: [...st.endpoints.values()].map((e) => ({ version_info: e.version, endpoint_config: { '@type': TypeUrl.endpoint, ...e.raw } })),
      last_rejected: rejected(TypeUrl.endpoint),
    },
  ];
  if (resource) {
    const key = resource.replace(/^dynamic_/, '');
    return { configs: configs.filter((c) => Object.keys(c).some((k) => k.includes(key))) };
  }
  return { configs };
}
