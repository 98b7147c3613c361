// /config_dump in Envoy's shape (envoy.admin.v3.*ConfigDump): the bootstrap node, then dynamic listeners, clusters,
// route configs and endpoints as received (raw xDS objects) with the version that was accepted, plus the last
// rejection per type so an operator can see why a push was NACKed. The workload's certificates appear as Envoy's
// SecretsConfigDump (`default` chain and `ROOTCA`, PEM in inline_bytes as Envoy shows them); private keys never do.
import { TypeUrl } from '../../xds/protos.ts';
import type { SecretStore } from '../tls/secrets.ts';
import type { AdminContext } from './admin-server.ts';

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/** envoy.admin.v3.SecretsConfigDump of the in-process SDS secrets: certificates and roots only, never the key. */
export function secretsConfigDump(secrets: SecretStore | undefined): Record<string, unknown> {
  const s = secrets?.current();
  const version = String(secrets?.generation ?? 0);
  return {
    '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
    dynamic_active_secrets: s
      ? [
          { name: 'default', version_info: version, secret: { '@type': TypeUrl.secret, name: 'default', tls_certificate: { certificate_chain: { inline_bytes: b64(s.certChainPem) } } } },
          { name: 'ROOTCA', version_info: version, secret: { '@type': TypeUrl.secret, name: 'ROOTCA', validation_context: { trusted_ca: { inline_bytes: b64(s.rootsPem) } } } },
        ]
      : [],
  };
}

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
    secretsConfigDump(ctx.engine.secrets),
  ];
  if (resource) {
    const key = resource.replace(/^dynamic_/, '');
    return { configs: configs.filter((c) => Object.keys(c).some((k) => k.includes(key))) };
  }
  return { configs };
}
