// Facts about pods the analyzers share: whether a pod is in the mesh (has or will get a sidecar) or ambient.
import type { AnalysisContext } from '../context.ts';
import type { Item } from '../model.ts';
import { GK, recs, str } from '../model.ts';

const INJECT = 'sidecar.istio.io/inject';

/** Istio's PodInMesh: an istio-proxy container, else the inject label/annotation, else the namespace's istio-injection label. */
export function podInMesh(ctx: AnalysisContext, pod: Item): boolean {
  const containers = [...recs(pod.spec['containers']), ...recs(pod.spec['initContainers'])];
  const proxy = containers.find((c) => str(c['name']) === 'istio-proxy');
  if (proxy && str(proxy['image']) !== '') return true;
  if (INJECT in pod.labels) return pod.labels[INJECT] === 'true';
  if (INJECT in pod.annotations) return pod.annotations[INJECT] === 'true';
  const ns = ctx.find(GK.Namespace, pod.namespace);
  if (ns) return ns.labels['istio-injection'] === 'enabled';
  return false;
}

export function podInAmbient(pod: Item | undefined): boolean {
  return pod !== undefined && pod.annotations['ambient.istio.io/redirection'] === 'enabled';
}

export function namespaceInAmbient(ns: Item | undefined): boolean {
  if (!ns) return false;
  if (ns.labels['istio-injection'] === 'enabled') return false;
  if ((ns.labels['istio.io/rev'] ?? '') !== '') return false;
  return ns.labels['istio.io/dataplane-mode'] === 'ambient';
}
