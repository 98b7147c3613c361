// IST0127 (an AuthorizationPolicy selects no workload in the mesh) and IST0101 (a source namespace that does not exist).
import type { AnalysisContext, Analyzer } from '../context.ts';
import type { Item } from '../model.ts';
import { GK, isRec, rec, recs, strMap, strs } from '../model.ts';
import { selectorMatches, selectorString } from '../util/labels.ts';
import { podInAmbient, podInMesh } from './pods.ts';

export const authorizationPolicies: Analyzer = {
  name: 'auth.AuthorizationPoliciesAnalyzer',
  description: 'Checks the validity of authorization policies',
  analyze(ctx) {
    const podLabels = new Map<string, Record<string, string>[]>();
    for (const pod of ctx.each(GK.Pod)) {
      const list = podLabels.get(pod.namespace) ?? [];
      if (podInMesh(ctx, pod)) list.push(pod.labels);
      if (podInAmbient(pod)) list.push(pod.labels);
      podLabels.set(pod.namespace, list);
    }
    for (const ap of ctx.each(GK.AuthorizationPolicy)) {
      if (ctx.workloadsKnown) noMatchingWorkloads(ctx, ap, podLabels);
      namespacesNotFound(ctx, ap);
    }
  },
};

function noMatchingWorkloads(ctx: AnalysisContext, ap: Item, podLabels: Map<string, Record<string, string>[]>): void {
  const hasSelector = isRec(ap.spec['selector']);
  const sel = strMap(rec(ap.spec['selector'])['matchLabels']);
  if (ap.namespace === ctx.mesh.rootNamespace) {
    if (hasSelector && ![...podLabels.values()].some((l) => l.some((p) => selectorMatches(sel, p)))) ctx.report('NoMatchingWorkloadsFound', ap, selectorString(sel));
    return;
  }
  const inNs = podLabels.get(ap.namespace) ?? [];
  if (!hasSelector) {
    if (inNs.length === 0) ctx.report('NoMatchingWorkloadsFound', ap, '');
    return;
  }
  if (!inNs.some((p) => selectorMatches(sel, p))) ctx.report('NoMatchingWorkloadsFound', ap, selectorString(sel));
}

/** Istio's namespace pattern: `*`, `*suffix`, `prefix*` or an exact (case-insensitive) name. */
function namespaceMatch(ns: string, exp: string): boolean {
  if (exp === '*') return true;
  if (exp.startsWith('*')) return ns.endsWith(exp.slice(1));
  if (exp.endsWith('*')) return ns.startsWith(exp.slice(0, -1));
  return ns.toLowerCase() === exp.toLowerCase();
}

function namespacesNotFound(ctx: AnalysisContext, ap: Item): void {
  const namespaces = ctx.each(GK.Namespace).map((n) => n.name);
  for (const rule of recs(ap.spec['rules'])) {
    for (const from of recs(rule['from'])) {
      const src = rec(from['source']);
      for (const ns of [...strs(src['namespaces']), ...strs(src['notNamespaces'])]) {
        if (!namespaces.some((n) => namespaceMatch(n, ns))) ctx.report('ReferencedResourceNotFound', ap, 'namespace', ns);
      }
    }
  }
}
