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
  /** MeshConfig defaultProviders: `tracing` names the extension provider used when no Telemetry names one. */
  defaultProviders?: { tracing?: string[] };
  /** MeshConfig enableTracing (default true); kept for compatibility, spans need a provider (see docs/tracing.md). */
  enableTracing?: boolean;
  /** ProxyConfig defaults that translation reads: meshId (default the trust domain), tracing.sampling (percent, default 1). */
  defaultConfig?: { meshId?: string; tracing?: { sampling?: number; maxPathTagLength?: number; customTags?: Record<string, TracingCustomTag> } };
  /** MeshConfig h2UpgradePolicy: UPGRADE sends HTTP/1.1 requests to HTTP services over HTTP/2. Default DO_NOT_UPGRADE. */
  h2UpgradePolicy?: 'DO_NOT_UPGRADE' | 'UPGRADE';
  /** Ingress gateway pods' service account etc. are not needed here; more fields are added as translation needs them. */
}

/** A span tag from ProxyConfig tracing.customTags (the same shape as a Telemetry custom tag). */
export interface TracingCustomTag {
  literal?: { value: string };
  environment?: { name: string; defaultValue?: string };
  header?: { name: string; defaultValue?: string };
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
  defaultProviders: { readonly tracing?: readonly string[] };
  /** istio.mesh_id span tag: defaultConfig.meshId, else the trust domain. */
  meshId: string;
  /** Percent of new traces sampled when a Telemetry sets no randomSamplingPercentage (Istio: 1; >100 counts as 1). */
  tracingSampling: number;
  /** Longest http.url tag; 0 = the tracer's default. */
  tracingMaxPathTagLength: number;
  /** defaultConfig.tracing.customTags: the span tags used when no Telemetry level sets customTags. */
  tracingCustomTags: Readonly<Record<string, TracingCustomTag>>;
  /** Mesh-wide h2UpgradePolicy (a DestinationRule's connectionPool.http.h2UpgradePolicy overrides it). */
  h2UpgradePolicy: 'DO_NOT_UPGRADE' | 'UPGRADE';
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
    defaultProviders: m.defaultProviders ?? {},
    meshId: m.defaultConfig?.meshId || (m.trustDomain ?? 'cluster.local'),
    tracingSampling: tracingSampling(m.defaultConfig?.tracing?.sampling),
    tracingMaxPathTagLength: m.defaultConfig?.tracing?.maxPathTagLength ?? 0,
    tracingCustomTags: tracingCustomTags(m.defaultConfig?.tracing?.customTags),
    h2UpgradePolicy: m.h2UpgradePolicy ?? 'DO_NOT_UPGRADE',
  };
}

/** ProxyConfig tracing.customTags as written (YAML, unchecked): only well-formed literal/environment/header tags are kept. */
function tracingCustomTags(raw: Record<string, TracingCustomTag> | undefined): Record<string, TracingCustomTag> {
  const out: Record<string, TracingCustomTag> = {};
  const str = (v: unknown): v is string => typeof v === 'string';
  for (const [tag, t] of Object.entries(raw ?? {})) {
    if (typeof t !== 'object' || t === null) continue;
    if (str(t.literal?.value)) out[tag] = { literal: { value: t.literal.value } };
    else if (str(t.environment?.name)) out[tag] = { environment: { name: t.environment.name, ...(str(t.environment.defaultValue) ? { defaultValue: t.environment.defaultValue } : {}) } };
    else if (str(t.header?.name)) out[tag] = { header: { name: t.header.name, ...(str(t.header.defaultValue) ? { defaultValue: t.header.defaultValue } : {}) } };
  }
  return out;
}

/** Istio's proxyConfigSamplingValue: unset or 0 means 1%, above 100 falls back to 1%. */
function tracingSampling(v: number | undefined): number {
  if (typeof v !== 'number' || v === 0 || !Number.isFinite(v)) return 1;
  return v > 100 || v < 0 ? 1 : v;
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
