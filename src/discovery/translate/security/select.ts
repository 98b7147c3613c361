// Which security policies apply to one workload, with Istio's attachment rules: a policy in the workload's namespace
// applies when it has no selector or its selector matches; a policy in the root namespace applies mesh-wide the same
// way; `targetRef(s)` attach to a Gateway (the proxy labelled gateway.networking.k8s.io/gateway-name) and otherwise
// to waypoints, which Weft does not run, so sidecars ignore them. Policies keep config order (creation time, name).
import type { Resource } from '../../../config/api/resource.ts';
import type { PolicyTargetReference, WorkloadSelector } from '../../../config/api/validation/common/labels.ts';

/** The identity of the workload a proxy fronts, as policy selection sees it. */
export interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

interface Attachable {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
}

const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

function selectorMatches(sel: WorkloadSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  const want = sel?.matchLabels ?? {};
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

/** Does a policy (Resource with an attachable spec) apply to the workload? */
export function policyApplies(res: Resource, w: Workload, rootNamespace: string): boolean {
  const ns = res.metadata.namespace ?? 'default';
  if (ns !== w.namespace && ns !== rootNamespace) return false;
  const spec = (res.spec ?? {}) as Attachable;
  const refs = [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
  if (refs.length > 0) {
    return ns === w.namespace && refs.some((r) => r.kind === 'Gateway' && (r.group ?? '') === 'gateway.networking.k8s.io' && w.labels[GATEWAY_NAME_LABEL] === r.name);
  }
  return selectorMatches(spec.selector, w.labels);
}

/** Config order: creation time, then namespace/name (Istio's order; files carry no creation time). */
export function configOrder(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace ?? 'default'}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace ?? 'default'}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** The policies of `kind` that apply to the workload, in config order. */
export function applicablePolicies(all: readonly Resource[], kind: string, w: Workload, rootNamespace: string): Resource[] {
  return all.filter((r) => r.kind === kind && policyApplies(r, w, rootNamespace)).sort(configOrder);
}
