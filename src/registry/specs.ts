// The spec types the registry reads, owned by the config API (src/config/api/networking, src/config/api/kube),
// and one reader for Kubernetes fields that live outside `spec` in the raw object (EndpointSlice).
export type { ServiceEntrySpec, WorkloadEntrySpec, WorkloadGroupSpec, Port as PortSpec } from '../config/api/networking/index.ts';
export type {
  ServicePort as KubeServicePort,
  ServiceSpec as KubeServiceSpec,
  PodSpec as KubePodSpec,
  PodStatus as KubePodStatus,
  EndpointSliceBody,
} from '../config/api/kube/types.ts';

/**
 * Read a top-level Kubernetes field (EndpointSlice `endpoints`, `ports`): the loader keeps them in `spec`; a raw object
 * keeps them at the top level. Both are accepted.
 */
export function topLevel<T>(r: object, key: string): T | undefined {
  const rec = r as Record<string, unknown>;
  const spec = rec['spec'];
  if (spec && typeof spec === 'object' && (spec as Record<string, unknown>)[key] !== undefined) return (spec as Record<string, unknown>)[key] as T;
  return rec[key] as T | undefined;
}
