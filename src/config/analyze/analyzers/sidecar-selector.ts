// IST0101 (selector matches no pod), IST0110 (several Sidecars select one pod), IST0111 (several Sidecars
// without selector in one namespace) and IST0167 (Sidecars have no effect in ambient mode).
import type { Analyzer } from '../context.ts';
import type { Item } from '../model.ts';
import { GK, fullName, rec, strMap } from '../model.ts';
import { selectorMatches, selectorString } from '../util/labels.ts';
import { namespaceInAmbient, podInAmbient } from './pods.ts';

const names = (list: Item[]): string[] => list.map((s) => s.name).sort();

export const sidecarSelector: Analyzer = {
  name: 'sidecar.SelectorAnalyzer',
  description: "Validates that sidecars that define a workload selector match at least one pod, and that there aren't multiple sidecar resources that select overlapping pods",
  analyze(ctx) {
    const podsToSidecars = new Map<string, { pod: Item; sidecars: Item[] }>();
    const nsToSidecars = new Map<string, Item[]>();
    for (const sc of ctx.each(GK.Sidecar)) {
      const sel = strMap(rec(sc.spec['workloadSelector'])['labels']);
      if (Object.keys(sel).length === 0) {
        nsToSidecars.set(sc.namespace, [...(nsToSidecars.get(sc.namespace) ?? []), sc]);
        continue;
      }
      let found = false;
      for (const pod of ctx.each(GK.Pod)) {
        if (pod.namespace !== sc.namespace || !selectorMatches(sel, pod.labels)) continue;
        found = true;
        const e = podsToSidecars.get(fullName(pod)) ?? { pod, sidecars: [] };
        e.sidecars.push(sc);
        podsToSidecars.set(fullName(pod), e);
      }
      if (!found && ctx.workloadsKnown) ctx.report('ReferencedResourceNotFound', sc, 'selector', selectorString(sel));
    }
    const reported = new Set<string>();
    for (const { pod, sidecars } of podsToSidecars.values()) {
      const ambient = podInAmbient(pod);
      if (sidecars.length === 1 && !ambient) continue;
      for (const sc of sidecars) {
        if (ambient) {
          if (!reported.has(fullName(sc))) ctx.report('IneffectivePolicy', sc, 'selected workload is in ambient mode, the policy has no impact');
          reported.add(fullName(sc));
          continue;
        }
        ctx.report('ConflictingSidecarWorkloadSelectors', sc, names(sidecars), pod.namespace, pod.name);
      }
    }
    for (const [ns, list] of nsToSidecars) {
      if (namespaceInAmbient(ctx.find(GK.Namespace, ns))) {
        for (const sc of list) {
          if (!reported.has(fullName(sc))) ctx.report('IneffectivePolicy', sc, 'namespace is in ambient mode, the policy has no impact');
          reported.add(fullName(sc));
        }
        continue;
      }
      if (list.length > 1) for (const sc of list) ctx.report('MultipleSidecarsWithoutWorkloadSelectors', sc, names(list), ns);
    }
  },
};
