// PeerAuthentication → the effective inbound mTLS mode per workload port, with Istio's precedence: the oldest policy
// whose selector matches the workload, then the namespace-wide one, then the mesh-wide one (root namespace, no
// selector); UNSET inherits from the next level; port-level modes (selector policies only) override the workload mode
// for their port. The mesh default is PERMISSIVE. The listener builder asks `modeFor(port)`.
import type { Resource } from '../../../config/api/resource.ts';
import type { MtlsMode, PeerAuthenticationSpec } from '../../../config/api/security/peer-authentication.ts';
import { configOrder, type Workload } from './select.ts';

export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

export interface EffectiveMtls {
  /** The mode for ports without a port-level setting. */
  defaultMode: EffectiveMtlsMode;
  /** Port-level modes (workload port number → mode). */
  ports: ReadonlyMap<number, EffectiveMtlsMode>;
  /** The policies that decided, most specific first (`namespace/name`), for `weft authz check`. */
  from: readonly string[];
  modeFor(port: number): EffectiveMtlsMode;
}

const set = (m: MtlsMode | undefined): m is EffectiveMtlsMode => m !== undefined && m !== 'UNSET';

export function effectiveMtls(all: readonly Resource[], w: Workload, rootNamespace: string): EffectiveMtls {
  const pas = all.filter((r) => r.kind === 'PeerAuthentication').sort(configOrder);
  const spec = (r: Resource): PeerAuthenticationSpec => (r.spec ?? {}) as PeerAuthenticationSpec;
  const hasLabels = (r: Resource): boolean => Object.keys(spec(r).selector?.matchLabels ?? {}).length > 0;
  const ns = (r: Resource): string => r.metadata.namespace ?? 'default';
  const workload = pas.find((r) => ns(r) === w.namespace && hasLabels(r) && Object.entries(spec(r).selector!.matchLabels!).every(([k, v]) => w.labels[k] === v));
  const namespace = pas.find((r) => ns(r) === w.namespace && !hasLabels(r));
  const mesh = pas.find((r) => ns(r) === rootNamespace && !hasLabels(r));
  const chain = [workload, namespace, mesh].filter((r): r is Resource => r !== undefined);
  let defaultMode: EffectiveMtlsMode = 'PERMISSIVE';
  for (const r of [...chain].reverse()) {
    const m = spec(r).mtls?.mode;
    if (set(m)) defaultMode = m;
  }
  const ports = new Map<number, EffectiveMtlsMode>();
  for (const [port, m] of Object.entries(workload ? (spec(workload).portLevelMtls ?? {}) : {})) {
    if (set(m?.mode)) ports.set(Number(port), m.mode);
  }
  return {
    defaultMode,
    ports,
    from: chain.map((r) => `${ns(r)}/${r.metadata.name}`),
    modeFor: (port) => ports.get(port) ?? defaultMode,
  };
}

/**
 * The mTLS mode a client can assume for a service's port, for auto-mTLS, as Istio infers it: from the namespace-wide
 * then the mesh-wide PeerAuthentication only; `undefined` (unknown) when a workload-selector policy in the service's
 * namespace could say otherwise for some of its workloads. A client must not originate mTLS to a DISABLE service.
 */
export function inferServiceMtlsMode(all: readonly Resource[], serviceNamespace: string, rootNamespace: string): EffectiveMtlsMode | undefined {
  const pas = all.filter((r) => r.kind === 'PeerAuthentication').sort(configOrder);
  const spec = (r: Resource): PeerAuthenticationSpec => (r.spec ?? {}) as PeerAuthenticationSpec;
  const hasLabels = (r: Resource): boolean => Object.keys(spec(r).selector?.matchLabels ?? {}).length > 0;
  const ns = (r: Resource): string => r.metadata.namespace ?? 'default';
  if (pas.some((r) => ns(r) === serviceNamespace && hasLabels(r))) return undefined;
  const chain = [pas.find((r) => ns(r) === serviceNamespace && !hasLabels(r)), pas.find((r) => ns(r) === rootNamespace && !hasLabels(r))];
  for (const r of chain) {
    const m = r ? spec(r).mtls?.mode : undefined;
    if (set(m)) return m;
  }
  return 'PERMISSIVE';
}
