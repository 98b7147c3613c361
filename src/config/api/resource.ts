// The envelope every configuration object shares (Kubernetes style: apiVersion, kind, metadata, spec),
// the list of kinds Weft understands, and their keys. Spec types live beside this file, one module per kind.

/** Kubernetes object metadata, the subset the mesh reads. */
export interface ObjectMeta {
  name: string;
  /** Defaults to `default` for namespaced kinds when absent. */
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  uid?: string;
}

/** Group, version, kind of a resource, e.g. networking.istio.io / v1 / VirtualService. Core kinds have group ''. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/**
 * A resource as loaded and validated, before or after spec typing. `spec` is typed per kind by the kind modules;
 * Kubernetes core objects keep their whole body in `body` because they do not all use `spec`.
 */
export interface Resource<S = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: S;
  /** Status is ignored on input and never validated. */
  status?: unknown;
}

/** Where a resource came from, for error messages: file path (or `-` for stdin) and 0-based document index. */
export interface Origin {
  file: string;
  /** Index of the YAML document within the file, and of the item within a `List`. */
  document: number;
  /** 1-based line of the document start, when known. */
  line?: number;
}

/** Kind/namespace/name, the key of a resource in a store. Cluster-scoped kinds have namespace ''. */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

export function keyOf(r: Pick<Resource, 'kind' | 'metadata'>, clusterScoped = false): ResourceKey {
  return { kind: r.kind, namespace: clusterScoped ? '' : (r.metadata.namespace ?? 'default'), name: r.metadata.name };
}

/** `Kind/namespace/name` (or `Kind/name` for cluster-scoped kinds), as printed by the CLI. */
export function formatKey(k: ResourceKey): string {
  return k.namespace === '' ? `${k.kind}/${k.name}` : `${k.kind}/${k.namespace}/${k.name}`;
}

export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}
