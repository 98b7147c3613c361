// The mesh snapshot: one immutable value built from validated config and the registry, made of small indexes that
// translation reads. A new snapshot is built per debounced change; `withEndpoints` is the cheap endpoint-only path
// that reuses every index but the endpoint one.
import type { Resource } from '../../config/api/resource.ts';
import { buildDestinationRules, type DestinationRuleRecord } from './destination-rules.ts';
import type { GatewaySpec, PeerAuthenticationSpec, SidecarSpec } from './istio-types.ts';
import { type MeshSettings, type ResolvedMesh, resolveMesh } from './mesh.ts';
import { type Endpoint, type RegistryState, type Service, endpointKey } from './model.ts';
import { buildVirtualServices, indexByGateway, type VirtualServiceRecord } from './virtual-services.ts';

export interface GatewayRecord {
  name: string;
  namespace: string;
  /** `namespace/name`, as VirtualServices refer to it once resolved. */
  key: string;
  spec: GatewaySpec;
}

export interface SidecarRecord {
  name: string;
  namespace: string;
  spec: SidecarSpec;
}

export interface PeerAuthenticationRecord {
  name: string;
  namespace: string;
  spec: PeerAuthenticationSpec;
}

export interface MeshSnapshot {
  readonly domainSuffix: string;
  readonly mesh: ResolvedMesh;
  /** All services, sorted by hostname then namespace. */
  readonly services: readonly Service[];
  readonly servicesByHost: ReadonlyMap<string, readonly Service[]>;
  readonly virtualServices: readonly VirtualServiceRecord[];
  /** VirtualServices by bound gateway: `mesh` or `namespace/name`. */
  readonly virtualServicesByGateway: ReadonlyMap<string, readonly VirtualServiceRecord[]>;
  readonly destinationRulesByHost: ReadonlyMap<string, readonly DestinationRuleRecord[]>;
  readonly gateways: readonly GatewayRecord[];
  readonly sidecarsByNamespace: ReadonlyMap<string, readonly SidecarRecord[]>;
  readonly peerAuthenticationsByNamespace: ReadonlyMap<string, readonly PeerAuthenticationRecord[]>;
  /** Security and telemetry policies (AuthorizationPolicy, RequestAuthentication, Telemetry …) by kind, then namespace. */
  readonly policies: ReadonlyMap<string, ReadonlyMap<string, readonly Resource[]>>;
  /** Endpoints by `host|servicePort` (see endpointKey). */
  readonly endpointsByService: ReadonlyMap<string, readonly Endpoint[]>;
  /** Endpoints by workload address: how a proxy finds its own inbound ports. */
  readonly endpointsByAddress: ReadonlyMap<string, readonly Endpoint[]>;
  /** The inputs, for /debug/configz. */
  readonly configs: readonly Resource[];
}

export interface SnapshotInput {
  configs: readonly Resource[];
  registry: RegistryState;
  mesh: MeshSettings;
  domainSuffix: string;
}

const POLICY_KINDS = ['AuthorizationPolicy', 'RequestAuthentication', 'Telemetry', 'EnvoyFilter', 'WasmPlugin', 'ProxyConfig'];

function nsOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

/** Istio orders configs by creation time, then namespace/name; files have no creation time, so the name decides. */
function configOrder(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${nsOf(a)}/${a.metadata.name}`;
  const kb = `${nsOf(b)}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

export function indexEndpoints(endpoints: readonly Endpoint[]): Map<string, Endpoint[]> {
  const sorted = [...endpoints].sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1));
  return groupBy(sorted, (e) => endpointKey(e.serviceHost, e.servicePort));
}

/** Build a snapshot (pure). */
export function buildSnapshot(input: SnapshotInput): MeshSnapshot {
  const configs = [...input.configs].sort(configOrder);
  const services = [...input.registry.services].sort((a, b) =>
    a.hostname === b.hostname ? (a.namespace < b.namespace ? -1 : 1) : a.hostname < b.hostname ? -1 : 1,
  );
  const vss = buildVirtualServices(configs, input.domainSuffix);
  const gateways: GatewayRecord[] = configs
    .filter((r) => r.kind === 'Gateway' && r.apiVersion.startsWith('networking.istio.io/'))
    .map((r) => ({ name: r.metadata.name, namespace: nsOf(r), key: `${nsOf(r)}/${r.metadata.name}`, spec: (r.spec ?? {}) as GatewaySpec }));
  const sidecars: SidecarRecord[] = configs
    .filter((r) => r.kind === 'Sidecar')
    .map((r) => ({ name: r.metadata.name, namespace: nsOf(r), spec: (r.spec ?? {}) as SidecarSpec }));
  const pas: PeerAuthenticationRecord[] = configs
    .filter((r) => r.kind === 'PeerAuthentication')
    .map((r) => ({ name: r.metadata.name, namespace: nsOf(r), spec: (r.spec ?? {}) as PeerAuthenticationSpec }));
  const policies = new Map<string, Map<string, Resource[]>>();
  for (const kind of POLICY_KINDS) {
    const ofKind = configs.filter((r) => r.kind === kind);
    if (ofKind.length > 0) policies.set(kind, groupBy(ofKind, nsOf));
  }
  return {
    domainSuffix: input.domainSuffix,
    mesh: resolveMesh(input.mesh),
    services,
    servicesByHost: groupBy(services, (s) => s.hostname),
    virtualServices: vss,
    virtualServicesByGateway: indexByGateway(vss),
    destinationRulesByHost: buildDestinationRules(configs, input.domainSuffix),
    gateways,
    sidecarsByNamespace: groupBy(sidecars, (s) => s.namespace),
    peerAuthenticationsByNamespace: groupBy(pas, (p) => p.namespace),
    policies,
    endpointsByService: indexEndpoints(input.registry.endpoints),
    endpointsByAddress: groupBy(input.registry.endpoints, (e) => e.address),
    configs,
  };
}

/** The endpoint-only fast path: same snapshot, new endpoint index. */
export function withEndpoints(snapshot: MeshSnapshot, endpoints: readonly Endpoint[]): MeshSnapshot {
  return { ...snapshot, endpointsByService: indexEndpoints(endpoints), endpointsByAddress: groupBy(endpoints, (e) => e.address) };
}
