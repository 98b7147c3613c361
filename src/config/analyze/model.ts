// What analyzers see: every loaded resource (valid, invalid or of a foreign kind), indexed by group/kind, with
// metadata typed and the spec left as data, read through the small accessors below.
import type { FieldError } from '../../core/result.ts';
import type { Origin } from '../api/resource.ts';
import { parseApiVersion } from '../api/resource.ts';

/** Group/kind identifiers analyzers look resources up by (`group/Kind`, core group ''). */
export const GK = {
  VirtualService: 'networking.istio.io/VirtualService',
  DestinationRule: 'networking.istio.io/DestinationRule',
  Gateway: 'networking.istio.io/Gateway',
  ServiceEntry: 'networking.istio.io/ServiceEntry',
  Sidecar: 'networking.istio.io/Sidecar',
  AuthorizationPolicy: 'security.istio.io/AuthorizationPolicy',
  RequestAuthentication: 'security.istio.io/RequestAuthentication',
  KubernetesGateway: 'gateway.networking.k8s.io/Gateway',
  Service: '/Service',
  Pod: '/Pod',
  Namespace: '/Namespace',
  Node: '/Node',
} as const;

export type Gk = string;

/** One resource under analysis. */
export interface Item {
  gk: Gk;
  group: string;
  kind: string;
  /** '' for cluster-scoped kinds (Namespace, Node). */
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The spec (or, for kinds without one, the body), as parsed. */
  spec: Rec;
  status: unknown;
  origin: Origin;
  /** Validation errors and warnings from the pipeline (reported as IST0106 / IST0133). */
  errors: FieldError[];
  warnings: FieldError[];
  /** What the pipeline did with the kind: `mesh`, `ignored` (Istio kind Weft ignores) or `skipped` (foreign kind). */
  support: string;
}

export type Rec = Record<string, unknown>;

export const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);
export const rec = (v: unknown): Rec => (isRec(v) ? v : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const recs = (v: unknown): Rec[] => arr(v).filter(isRec);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const strs = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');
export const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

export function gkOf(apiVersion: string, kind: string): Gk {
  return `${parseApiVersion(apiVersion).group}/${kind}`;
}

/** `namespace/name`, or `name` for cluster-scoped resources: Istio's FullName string. */
export function fullName(i: Pick<Item, 'namespace' | 'name'>): string {
  return i.namespace === '' ? i.name : `${i.namespace}/${i.name}`;
}
