// The security translation for one proxy view: the workload is the proxy (namespace, labels), the policies come from
// the snapshot, the root namespace and trust domain from the resolved mesh. Memoised per view, so every listener of
// one push shares one translation.
import type { ProxyView } from '../../snapshot/view.ts';
import { buildWorkloadSecurity, type ExtensionProvider, type WorkloadSecurity } from './index.ts';

const SECURITY_KINDS: ReadonlySet<string> = new Set(['AuthorizationPolicy', 'RequestAuthentication', 'PeerAuthentication']);
const memo = new WeakMap<ProxyView, WorkloadSecurity>();

/** Overrides of the mesh's trustDomainAliases and extensionProviders (tests, `weft authz check`). */
export interface MeshSecuritySettings {
  trustDomainAliases?: readonly string[];
  extensionProviders?: readonly ExtensionProvider[];
}

export function workloadSecurity(view: ProxyView, extra: MeshSecuritySettings = {}): WorkloadSecurity {
  const hit = memo.get(view);
  if (hit) return hit;
  const mesh = view.snapshot.mesh;
  const sec = buildWorkloadSecurity({
    workload: { namespace: view.proxy.namespace, labels: view.proxy.labels },
    configs: view.snapshot.configs.filter((r) => SECURITY_KINDS.has(r.kind)),
    rootNamespace: mesh.rootNamespace,
    trustDomain: mesh.trustDomain,
    trustDomainAliases: extra.trustDomainAliases ?? mesh.trustDomainAliases,
    // MeshConfig providers are checked for a name when the mesh config is loaded; the translator reads the rest defensively.
    extensionProviders: extra.extensionProviders ?? (mesh.extensionProviders as unknown as readonly ExtensionProvider[]),
  });
  memo.set(view, sec);
  return sec;
}
