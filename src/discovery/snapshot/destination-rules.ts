// DestinationRules by host, and the rule that applies to one (proxy, service) pair, following Istio's lookup order:
// a DR in the proxy's namespace whose workloadSelector matches the proxy, then the proxy's namespace, then the
// service's namespace, then other namespaces that export to the proxy, then the root namespace. DRs in the chosen
// tier are merged (subsets appended, first definition wins); missing traffic-policy fields are inherited from the
// root-namespace rule for the same host.
import type { Resource } from '../../config/api/resource.ts';
import { hostMatches, resolveHost } from './hosts.ts';
import type { DestinationRuleSpec, PortTrafficPolicy, Subset, TrafficPolicy } from './istio-types.ts';
import { isExportedTo } from './mesh.ts';
import { labelsMatch } from './model.ts';

export interface DestinationRuleRecord {
  name: string;
  namespace: string;
  /** Resolved host (FQDN or wildcard). */
  host: string;
  exportTo: readonly string[];
  /** workloadSelector.matchLabels, when the rule is scoped to workloads. */
  selector: Readonly<Record<string, string>> | undefined;
  spec: DestinationRuleSpec;
}

/** The rule that applies to one (proxy, service), after lookup and merging. */
export interface EffectiveDestinationRule {
  trafficPolicy: TrafficPolicy | undefined;
  subsets: readonly Subset[];
  /** `namespace/name` of each rule that contributed, in precedence order. */
  sources: readonly string[];
}

export function buildDestinationRules(resources: readonly Resource[], domainSuffix: string): Map<string, DestinationRuleRecord[]> {
  const byHost = new Map<string, DestinationRuleRecord[]>();
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const ns = r.metadata.namespace ?? 'default';
    const spec = (r.spec ?? {}) as DestinationRuleSpec;
    if (!spec.host) continue;
    const host = resolveHost(spec.host, ns, domainSuffix);
    const rec: DestinationRuleRecord = { name: r.metadata.name, namespace: ns, host, exportTo: spec.exportTo ?? [], selector: spec.workloadSelector?.matchLabels, spec };
    const list = byHost.get(host) ?? [];
    list.push(rec);
    byHost.set(host, list);
  }
  return byHost;
}

function mergePortLevel(a: readonly PortTrafficPolicy[] | undefined, b: readonly PortTrafficPolicy[] | undefined): PortTrafficPolicy[] | undefined {
  if (!a && !b) return undefined;
  const out = [...(a ?? [])];
  for (const p of b ?? []) if (!out.some((x) => x.port?.number === p.port?.number)) out.push(p);
  return out;
}

/** Field-wise merge: each top-level field of `primary` wins; missing ones come from `fallback`. */
export function mergeTrafficPolicy(primary: TrafficPolicy | undefined, fallback: TrafficPolicy | undefined): TrafficPolicy | undefined {
  if (!primary) return fallback;
  if (!fallback) return primary;
  const merged: TrafficPolicy = {};
  const lb = primary.loadBalancer ?? fallback.loadBalancer;
  const pool = primary.connectionPool ?? fallback.connectionPool;
  const od = primary.outlierDetection ?? fallback.outlierDetection;
  const tls = primary.tls ?? fallback.tls;
  const pls = mergePortLevel(primary.portLevelSettings, fallback.portLevelSettings);
  if (lb) merged.loadBalancer = lb;
  if (pool) merged.connectionPool = pool;
  if (od) merged.outlierDetection = od;
  if (tls) merged.tls = tls;
  if (pls) merged.portLevelSettings = pls;
  return merged;
}

function mergeTier(tier: readonly DestinationRuleRecord[]): EffectiveDestinationRule {
  let trafficPolicy: TrafficPolicy | undefined;
  const subsets: Subset[] = [];
  for (const dr of tier) {
    trafficPolicy = mergeTrafficPolicy(trafficPolicy, dr.spec.trafficPolicy);
    for (const s of dr.spec.subsets ?? []) if (!subsets.some((x) => x.name === s.name)) subsets.push(s);
  }
  return { trafficPolicy, subsets, sources: tier.map((d) => `${d.namespace}/${d.name}`) };
}

const wildcardCache = new WeakMap<ReadonlyMap<string, readonly DestinationRuleRecord[]>, string[]>();

/** The wildcard hosts of an index, computed once per (immutable) index. */
function wildcardHosts(byHost: ReadonlyMap<string, readonly DestinationRuleRecord[]>): string[] {
  let w = wildcardCache.get(byHost);
  if (!w) {
    w = [...byHost.keys()].filter((h) => h.startsWith('*'));
    wildcardCache.set(byHost, w);
  }
  return w;
}

/** The DRs for `host` among those `keep` admits: exact host first, else the most specific wildcard that matches. */
function candidatesFor(
  byHost: ReadonlyMap<string, readonly DestinationRuleRecord[]>,
  host: string,
  keep: (d: DestinationRuleRecord) => boolean,
): readonly DestinationRuleRecord[] {
  const exact = (byHost.get(host) ?? []).filter(keep);
  if (exact.length > 0) return exact;
  let best: readonly DestinationRuleRecord[] = [];
  let bestLen = -1;
  for (const h of wildcardHosts(byHost)) {
    if (!hostMatches(h, host) || h.length <= bestLen) continue;
    const kept = (byHost.get(h) ?? []).filter(keep);
    if (kept.length > 0) {
      best = kept;
      bestLen = h.length;
    }
  }
  return best;
}

export interface DrLookup {
  proxyNamespace: string;
  proxyLabels: Readonly<Record<string, string>>;
  serviceNamespace: string;
  host: string;
  rootNamespace: string;
  defaultExportTo: readonly string[];
}

/** The effective DestinationRule for a proxy calling `host`, or undefined when none applies. */
export function destinationRuleFor(byHost: ReadonlyMap<string, readonly DestinationRuleRecord[]>, q: DrLookup): EffectiveDestinationRule | undefined {
  const exported = (d: DestinationRuleRecord) => isExportedTo(d.exportTo.length > 0 ? d.exportTo : q.defaultExportTo, d.namespace, q.proxyNamespace);
  const tier = (keep: (d: DestinationRuleRecord) => boolean) => candidatesFor(byHost, q.host, keep);
  const selected = tier((d) => d.selector !== undefined && d.namespace === q.proxyNamespace && labelsMatch(d.selector, q.proxyLabels));
  const local = tier((d) => !d.selector && d.namespace === q.proxyNamespace);
  const svcNs = tier((d) => !d.selector && d.namespace === q.serviceNamespace && d.namespace !== q.proxyNamespace && exported(d));
  const root = tier((d) => !d.selector && d.namespace === q.rootNamespace && d.namespace !== q.proxyNamespace && d.namespace !== q.serviceNamespace && exported(d));
  const others = tier((d) => !d.selector && ![q.proxyNamespace, q.serviceNamespace, q.rootNamespace].includes(d.namespace) && exported(d));
  if (selected.length + local.length + svcNs.length + root.length + others.length === 0) return undefined;
  let chosen: EffectiveDestinationRule;
  if (selected.length > 0) chosen = mergeTier([...selected, ...local]);
  else if (local.length > 0) chosen = mergeTier(local);
  else if (svcNs.length > 0) chosen = mergeTier(svcNs);
  else if (others.length > 0) chosen = mergeTier(others);
  else return mergeTier(root);
  if (root.length === 0) return chosen;
  const inherited = mergeTier(root);
  return { trafficPolicy: mergeTrafficPolicy(chosen.trafficPolicy, inherited.trafficPolicy), subsets: chosen.subsets, sources: [...chosen.sources, ...inherited.sources] };
}
