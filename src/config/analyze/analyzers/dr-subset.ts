// IST0174 (a DestinationRule host that is no known service) and IST0173 (a subset whose labels select no pod,
// so traffic to it fails with 503 UH). Pods carry the topology labels of their node, as Istio adds them.
import type { Analyzer } from '../context.ts';
import type { Item } from '../model.ts';
import { GK, recs, str, strMap, strs } from '../model.ts';
import { destinationService, serviceHostMap } from '../util/hosts.ts';
import { selectorMatches } from '../util/labels.ts';

const REGION = 'topology.kubernetes.io/region';
const ZONE = 'topology.kubernetes.io/zone';
const SUBZONE = 'topology.istio.io/subzone';
const HOSTNAME = 'kubernetes.io/hostname';

export const subsetSelectsPods: Analyzer = {
  name: 'destinationrule.SubsetSelectPodAnalyzer',
  description: 'Checks if pods are selected by subsets in destination rules.',
  analyze(ctx) {
    const services = serviceHostMap(ctx);
    const nodes = new Map(ctx.each(GK.Node).map((n) => [n.name, n.labels]));
    const subsets: { dr: Item; name: string; selector: Record<string, string>; matched: boolean }[] = [];
    for (const dr of ctx.each(GK.DestinationRule)) {
      const host = str(dr.spec['host']);
      const se = destinationService(dr.namespace, strs(dr.spec['exportTo']), host, services);
      if (!se) {
        ctx.report('UnknownDestinationRuleHost', dr, host);
        continue;
      }
      for (const ss of recs(dr.spec['subsets'])) {
        subsets.push({ dr, name: str(ss['name']), selector: { ...se.workloadSelector, ...strMap(ss['labels']) }, matched: false });
      }
    }
    for (const pod of ctx.each(GK.Pod)) {
      const labels = augmented(pod, nodes);
      for (const s of subsets) if (!s.matched && selectorMatches(s.selector, labels)) s.matched = true;
    }
    if (!ctx.workloadsKnown) return;
    for (const s of subsets) if (!s.matched) ctx.report('DestinationRuleSubsetNotSelectPods', s.dr, s.name);
  },
};

/** The pod's labels plus the locality and hostname labels Istio derives from its node. */
function augmented(pod: Item, nodes: Map<string, Record<string, string>>): Record<string, string> {
  const out = { ...pod.labels };
  const nodeName = str(pod.spec['nodeName']);
  const node = nodes.get(nodeName);
  if (node) {
    if (node[REGION]) out[REGION] = node[REGION];
    if (node[ZONE]) out[ZONE] = node[ZONE];
    if (node[SUBZONE]) out[SUBZONE] = node[SUBZONE];
  }
  if (nodeName !== '') out[HOSTNAME] = nodeName;
  return out;
}
