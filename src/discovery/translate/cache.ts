// Sharing generated resources between proxies that translation cannot tell apart. Most of a proxy's config depends
// only on its namespace, labels, kind and locality (its "class"), not on its IP or name: those parts are memoized
// per snapshot and per class, so a thousand sidecars of one Deployment get the *same* objects, and the server's
// encoder (which memoizes by object) encodes them once. Only inbound listeners and clusters are built per proxy.
import type { Proxy } from '../proxy.ts';
import type { MeshSnapshot } from '../snapshot/snapshot.ts';
import type { Json } from './common.ts';

/** Every proxy field that the shared (non-inbound) parts of translation read. */
export interface ProxyClass {
  type: Proxy['type'];
  generator: Proxy['generator'];
  namespace: string;
  labels: Array<[string, string]>;
  locality: Proxy['locality'];
  /** CLUSTER_ID: the istio.cluster_id span tag of HCM tracing. */
  clusterId: string;
}

export function proxyClass(p: Proxy): ProxyClass {
  const labels = Object.entries(p.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { type: p.type, generator: p.generator, namespace: p.namespace, labels, locality: p.locality, clusterId: p.clusterId };
}

/** The cache key of one shared part: the proxy class, which part, and the names asked for. */
export interface PartKey {
  proxy: ProxyClass;
  part: string;
  requested: readonly string[];
}

const memo = new WeakMap<MeshSnapshot, Map<string, readonly Json[]>>();

/** Memoize `build` per snapshot under the whole key (serialized, so equal keys hit). */
export function shared(snapshot: MeshSnapshot, key: PartKey, build: () => Json[]): readonly Json[] {
  let perSnapshot = memo.get(snapshot);
  if (!perSnapshot) {
    perSnapshot = new Map();
    memo.set(snapshot, perSnapshot);
  }
  const k = JSON.stringify([key.proxy, key.part, [...key.requested].sort()]);
  let hit = perSnapshot.get(k);
  if (!hit) {
    hit = build();
    perSnapshot.set(k, hit);
  }
  return hit;
}

const resourceMemo = new WeakMap<MeshSnapshot, Map<string, Json>>();

/**
 * Memoize one resource per snapshot under its whole key: for resources that are the same for every proxy that reaches
 * them with the same inputs (an outbound cluster under the same DestinationRules, a load assignment), across classes.
 */
export function sharedResource(snapshot: MeshSnapshot, key: Record<string, unknown>, build: () => Json): Json {
  let perSnapshot = resourceMemo.get(snapshot);
  if (!perSnapshot) {
    perSnapshot = new Map();
    resourceMemo.set(snapshot, perSnapshot);
  }
  const k = JSON.stringify(key);
  let hit = perSnapshot.get(k);
  if (!hit) {
    hit = build();
    perSnapshot.set(k, hit);
  }
  return hit;
}
