// The registry of every kind Weft understands: group, served versions, scope, names for `weft get`, and the
// validators the pipeline (validate.ts) runs on it. Kinds from other API groups are not listed here: the
// pipeline skips them with a warning (see `classifyKind`). One table, built once, no side-effect registration.
import type { GroupVersionKind } from './resource.ts';
import { crdKinds } from './schema/structural.ts';
import type { SemanticValidator, Validation } from './validation/report.ts';
import { kubeStructure } from './kube/index.ts';
import { networkingValidators } from './networking/index.ts';
import { securityValidators } from './security/index.ts';
import { telemetryValidators } from './telemetry/index.ts';

export type KindScope = 'Namespaced' | 'Cluster';

/**
 * What Weft does with a kind.
 * - `mesh`: Weft acts on it (routing, policy, registry); invalid ones are rejected.
 * - `ignored`: an Istio CRD kind Weft does not act on (EnvoyFilter, WasmPlugin, ProxyConfig …): validated against
 *   Istio's schema so that errors are still caught, then accepted with a warning that Weft ignores it.
 */
export type KindSupport = 'mesh' | 'ignored';

/** Where the structural (schema) layer of a kind comes from. */
export type StructureSource =
  /** Istio's CRD OpenAPI schema and CEL rules (schema/structural.ts). */
  | { type: 'crd' }
  /** Weft's own checks of the Kubernetes fields the mesh reads (kube/). */
  | { type: 'kube'; check: (body: Record<string, unknown>, kind: string) => Validation };

export interface KindInfo {
  kind: string;
  /** API group; '' for the Kubernetes core group (apiVersion `v1`). */
  group: string;
  /** Served versions, preferred (storage) version first. */
  versions: readonly string[];
  scope: KindScope;
  /** Lower-case plural, as `kubectl get` and `weft get` accept it. */
  plural: string;
  /** Short names (`vs`, `dr` …); Istio's CRD short names plus kubectl's for core kinds. */
  shortNames: readonly string[];
  support: KindSupport;
  structure: StructureSource;
  /** Webhook-layer rules, run only when the structural layer passed (as the API server runs the webhook after the schema). */
  semantic?: SemanticValidator;
}

/** `group/version`, or just `version` for the core group. */
export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

/** The preferred apiVersion of a kind (`networking.istio.io/v1`). */
export function preferredApiVersion(k: KindInfo): string {
  return apiVersionOf(k.group, k.versions[0] ?? '');
}

/** The Istio API groups: every kind in them is either known here or rejected as unknown (no such CRD). */
export const ISTIO_GROUPS: ReadonlySet<string> = new Set(['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io']);

const NET = 'networking.istio.io';
const NET_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
const SEC = 'security.istio.io';
const SEC_VERSIONS = ['v1', 'v1beta1'];

type Def = Omit<KindInfo, 'structure' | 'semantic' | 'scope'> & { scope?: KindScope };

/** Istio kinds. Versions and plurals agree with crds/crd-all.gen.yaml (kinds.test.ts checks this against the CRD data). */
const istioDefs: Def[] = [
  { kind: 'VirtualService', group: NET, versions: NET_VERSIONS, plural: 'virtualservices', shortNames: ['vs'], support: 'mesh' },
  { kind: 'DestinationRule', group: NET, versions: NET_VERSIONS, plural: 'destinationrules', shortNames: ['dr'], support: 'mesh' },
  { kind: 'Gateway', group: NET, versions: NET_VERSIONS, plural: 'gateways', shortNames: ['gw'], support: 'mesh' },
  { kind: 'ServiceEntry', group: NET, versions: NET_VERSIONS, plural: 'serviceentries', shortNames: ['se'], support: 'mesh' },
  { kind: 'WorkloadEntry', group: NET, versions: NET_VERSIONS, plural: 'workloadentries', shortNames: ['we'], support: 'mesh' },
  { kind: 'WorkloadGroup', group: NET, versions: NET_VERSIONS, plural: 'workloadgroups', shortNames: ['wg'], support: 'mesh' },
  { kind: 'Sidecar', group: NET, versions: NET_VERSIONS, plural: 'sidecars', shortNames: [], support: 'mesh' },
  { kind: 'PeerAuthentication', group: SEC, versions: SEC_VERSIONS, plural: 'peerauthentications', shortNames: ['pa'], support: 'mesh' },
  { kind: 'AuthorizationPolicy', group: SEC, versions: SEC_VERSIONS, plural: 'authorizationpolicies', shortNames: ['ap'], support: 'mesh' },
  { kind: 'RequestAuthentication', group: SEC, versions: SEC_VERSIONS, plural: 'requestauthentications', shortNames: ['ra'], support: 'mesh' },
  { kind: 'Telemetry', group: 'telemetry.istio.io', versions: ['v1', 'v1alpha1'], plural: 'telemetries', shortNames: ['telemetry'], support: 'mesh' },
  { kind: 'EnvoyFilter', group: NET, versions: ['v1alpha3'], plural: 'envoyfilters', shortNames: [], support: 'ignored' },
  { kind: 'ProxyConfig', group: NET, versions: ['v1beta1'], plural: 'proxyconfigs', shortNames: [], support: 'ignored' },
  { kind: 'WasmPlugin', group: 'extensions.istio.io', versions: ['v1alpha1'], plural: 'wasmplugins', shortNames: [], support: 'ignored' },
  { kind: 'TrafficExtension', group: 'extensions.istio.io', versions: ['v1alpha1'], plural: 'trafficextensions', shortNames: [], support: 'ignored' },
];

/** Kubernetes kinds the mesh reads (registry: Services, EndpointSlices, Pods; injection: Namespaces, Deployments). */
const kubeDefs: Def[] = [
  { kind: 'Namespace', group: '', versions: ['v1'], plural: 'namespaces', shortNames: ['ns'], support: 'mesh', scope: 'Cluster' },
  { kind: 'Service', group: '', versions: ['v1'], plural: 'services', shortNames: ['svc'], support: 'mesh' },
  { kind: 'Pod', group: '', versions: ['v1'], plural: 'pods', shortNames: ['po'], support: 'mesh' },
  { kind: 'ServiceAccount', group: '', versions: ['v1'], plural: 'serviceaccounts', shortNames: ['sa'], support: 'mesh' },
  { kind: 'Deployment', group: 'apps', versions: ['v1'], plural: 'deployments', shortNames: ['deploy'], support: 'mesh' },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', versions: ['v1'], plural: 'endpointslices', shortNames: [], support: 'mesh' },
];

/** Semantic validators by kind, supplied by the kind modules. */
export type SemanticTable = Readonly<Record<string, SemanticValidator | undefined>>;

/** Build the registry from the definitions and the validator tables (exported for tests that swap a table). */
export function buildKinds(semantic: SemanticTable): readonly KindInfo[] {
  // Served versions, plural and scope come from the CRD data when it has the kind (it is Istio's own schema).
  const crds = crdKinds();
  const istio = istioDefs.map((d): KindInfo => {
    const crd = crds.find((c) => c.group === d.group && c.kind === d.kind);
    return {
      ...d,
      versions: crd?.versions ?? d.versions,
      plural: crd?.plural ?? d.plural,
      scope: crd?.scope ?? d.scope ?? 'Namespaced',
      structure: { type: 'crd' },
      semantic: semantic[d.kind],
    };
  });
  const kube = kubeDefs.map((d): KindInfo => ({ ...d, scope: d.scope ?? 'Namespaced', structure: { type: 'kube', check: kubeStructure }, semantic: semantic[d.kind] }));
  return [...istio, ...kube];
}

const KINDS: readonly KindInfo[] = buildKinds({ ...networkingValidators, ...securityValidators, ...telemetryValidators });

/** Every kind Weft knows, Istio kinds first. */
export function allKinds(): readonly KindInfo[] {
  return KINDS;
}

/** The kind registered for a group and kind name, whatever the version. */
export function findKind(group: string, kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.kind === kind);
}

/**
 * Resolve what a user typed after `weft get` (`vs`, `virtualservice`, `VirtualService`, `virtualservices`,
 * `virtualservices.networking.istio.io`) to a kind. Case-insensitive. Undefined when nothing matches.
 */
export function resolveKindName(name: string): KindInfo | undefined {
  const lower = name.toLowerCase();
  const dot = lower.indexOf('.');
  const [resName, group] = dot < 0 ? [lower, undefined] : [lower.slice(0, dot), lower.slice(dot + 1)];
  return KINDS.find(
    (k) =>
      (group === undefined || k.group === group) &&
      (k.kind.toLowerCase() === resName || k.plural === resName || k.shortNames.includes(resName)),
  );
}

/** How the pipeline treats a group/version/kind. */
export type KindClass =
  | { type: 'known'; info: KindInfo }
  /** The kind is known but this version is not served (e.g. security.istio.io/v1alpha3). */
  | { type: 'wrong-version'; info: KindInfo }
  /** An Istio group but no such kind: the API server has no CRD for it. */
  | { type: 'unknown-istio-kind'; known: readonly KindInfo[] }
  /** Another API group (Gateway API, cert-manager, Secret, Ingress, webhooks …): skipped with a warning. */
  | { type: 'foreign' };

export function classifyKind(gvk: GroupVersionKind): KindClass {
  const info = findKind(gvk.group, gvk.kind);
  if (info) return info.versions.includes(gvk.version) ? { type: 'known', info } : { type: 'wrong-version', info };
  if (ISTIO_GROUPS.has(gvk.group)) return { type: 'unknown-istio-kind', known: KINDS.filter((k) => k.group === gvk.group) };
  return { type: 'foreign' };
}
