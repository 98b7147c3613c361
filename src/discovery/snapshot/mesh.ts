// The MeshConfig fields that the snapshot and translation read (Istio's MeshConfig names), with Istio's defaults.
// The config layer owns MeshConfig as a whole; any object with these optional fields can be passed in.
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export interface MeshSettings {
  /** Namespace whose config applies mesh-wide (DestinationRules, Sidecars, PeerAuthentication). Default `istio-system`. */
  rootNamespace?: string;
  /** SPIFFE trust domain. Default `cluster.local`. */
  trustDomain?: string;
  /** Automatic mTLS to endpoints that have sidecars when no DestinationRule sets TLS. Default true. */
  enableAutoMtls?: boolean;
  /** Upstream connect timeout, Go duration. Default `10s`. */
  connectTimeout?: string;
  /** What to do with traffic to unknown hosts. Default ALLOW_ANY (PassthroughCluster). */
  outboundTrafficPolicy?: { mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  defaultServiceExportTo?: string[];
  defaultVirtualServiceExportTo?: string[];
  defaultDestinationRuleExportTo?: string[];
  /** Other trust domains whose identities count as this mesh's (MeshConfig trustDomainAliases). */
  trustDomainAliases?: string[];
  /** MeshConfig extensionProviders (ext-authz providers for CUSTOM AuthorizationPolicies), as written in MeshConfig. */
  extensionProviders?: Array<Record<string, unknown>>;
  /** MeshConfig pathNormalization.normalization: NONE, BASE (default), MERGE_SLASHES, DECODE_AND_MERGE_SLASHES. */
  pathNormalization?: { normalization?: PathNormalization };
  /** Ingress gateway pods' service account etc. are not needed here; more fields are added as translation needs them. */
}

/** MeshSettings with every default applied. */
export interface ResolvedMesh {
  rootNamespace: string;
  trustDomain: string;
  enableAutoMtls: boolean;
  /** Connect timeout in ms. */
  connectTimeoutMs: number;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  defaultServiceExportTo: readonly string[];
  defaultVirtualServiceExportTo: readonly string[];
  defaultDestinationRuleExportTo: readonly string[];
  trustDomainAliases: readonly string[];
  extensionProviders: ReadonlyArray<Record<string, unknown>>;
  pathNormalization: PathNormalization;
}


export function resolveMesh(m: MeshSettings): ResolvedMesh {
  return {
    rootNamespace: m.rootNamespace ?? 'istio-system',
    trustDomain: m.trustDomain ?? 'cluster.local',
    enableAutoMtls: m.enableAutoMtls ?? true,
    connectTimeoutMs: parseDurationMillis(m.connectTimeout) ?? 10_000,
    outboundTrafficPolicy: m.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
    defaultServiceExportTo: m.defaultServiceExportTo ?? ['*'],
    defaultVirtualServiceExportTo: m.defaultVirtualServiceExportTo ?? ['*'],
    defaultDestinationRuleExportTo: m.defaultDestinationRuleExportTo ?? ['*'],
    trustDomainAliases: m.trustDomainAliases ?? [],
    extensionProviders: m.extensionProviders ?? [],
    pathNormalization: m.pathNormalization?.normalization ?? 'BASE',
  };
}

/** Istio exportTo semantics: `*` everyone, `.` same namespace, `~` nobody, otherwise the listed namespaces. */
export function isExportedTo(exportTo: readonly string[], configNamespace: string, proxyNamespace: string): boolean {
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && configNamespace === proxyNamespace) return true;
    if (e === proxyNamespace) return true;
  }
  return false;
}
