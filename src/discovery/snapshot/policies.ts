// Policies (AuthorizationPolicy, RequestAuthentication, Telemetry …) that apply to one proxy, as Istio selects them:
// mesh-wide ones in the root namespace, namespace-wide ones in the proxy's namespace, and workload ones whose
// selector matches the proxy's labels. Security and telemetry translation build on this.
import type { Resource } from '../../config/api/resource.ts';
import type { Proxy } from '../proxy.ts';
import { labelsMatch } from './model.ts';
import type { MeshSnapshot } from './snapshot.ts';

/** Which level a policy applies at. */
export type PolicyScope = 'mesh' | 'namespace' | 'workload';

export interface AppliedPolicy {
  scope: PolicyScope;
  resource: Resource;
}

/** `spec.selector.matchLabels` (security, telemetry kinds) or `spec.workloadSelector.labels` (EnvoyFilter …). */
function selectorOf(r: Resource): Readonly<Record<string, string>> | undefined {
  const spec = (r.spec ?? {}) as { selector?: { matchLabels?: Record<string, string> }; workloadSelector?: { labels?: Record<string, string> } };
  const labels = spec.selector?.matchLabels ?? spec.workloadSelector?.labels;
  return labels && Object.keys(labels).length > 0 ? labels : undefined;
}

/**
 * The policies of `kind` that apply to `proxy`, mesh-wide first, then namespace-wide, then workload-selected, each in
 * config order. A selector in the root namespace selects workloads in every namespace, as in Istio.
 */
export function policiesFor(snapshot: MeshSnapshot, kind: string, proxy: Proxy): AppliedPolicy[] {
  const byNs = snapshot.policies.get(kind);
  if (!byNs) return [];
  const root = snapshot.mesh.rootNamespace;
  const out: AppliedPolicy[] = [];
  const rootPolicies = byNs.get(root) ?? [];
  const local = proxy.namespace === root ? [] : (byNs.get(proxy.namespace) ?? []);
  for (const r of rootPolicies) if (!selectorOf(r)) out.push({ scope: 'mesh', resource: r });
  for (const r of local) if (!selectorOf(r)) out.push({ scope: 'namespace', resource: r });
  for (const r of [...rootPolicies, ...local]) {
    const sel = selectorOf(r);
    if (sel && labelsMatch(sel, proxy.labels)) out.push({ scope: 'workload', resource: r });
  }
  return out;
}
