// The security translation of one workload, in one call: which policies apply, the HTTP filters (jwt_authn, then
// CUSTOM/AUDIT/DENY/ALLOW RBAC) and TCP network filters to put in its inbound chains, and its effective mTLS mode per
// port. Pure: config in, Envoy filter objects out (each encodes with encodeAny()).
import type { Resource } from '../../../config/api/resource.ts';
import type { Json } from '../common.ts';
import { buildAuthzFilters, type AuthzNote } from './authz.ts';
import type { ExtensionProvider } from './ext-authz.ts';
import { buildJwtAuthnFilter } from './jwt-authn.ts';
import { effectiveMtls, type EffectiveMtls } from './peer-authn.ts';
import { applicablePolicies, type Workload } from './select.ts';

export type { ExtensionProvider } from './ext-authz.ts';
export type { EffectiveMtls, EffectiveMtlsMode } from './peer-authn.ts';
export type { Workload } from './select.ts';

export interface SecurityInput {
  workload: Workload;
  /** Every config resource (or at least every security one); selection happens here. */
  configs: readonly Resource[];
  rootNamespace: string;
  /** MeshConfig trustDomain. */
  trustDomain: string;
  /** MeshConfig trustDomainAliases. */
  trustDomainAliases?: readonly string[];
  extensionProviders?: readonly ExtensionProvider[];
}

export interface WorkloadSecurity {
  /** HTTP filters for inbound HTTP connection managers, in order, to insert before the router. */
  httpFilters: Json[];
  /** Network filters for inbound TCP chains, in order, to insert before tcp_proxy. */
  tcpFilters: Json[];
  mtls: EffectiveMtls;
  /** The AuthorizationPolicies and RequestAuthentications in force, `namespace/name`, in config order. */
  authorizationPolicies: string[];
  requestAuthentications: string[];
  notes: AuthzNote[];
}

const key = (r: Resource): string => `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;

export function buildWorkloadSecurity(input: SecurityInput): WorkloadSecurity {
  const aps = applicablePolicies(input.configs, 'AuthorizationPolicy', input.workload, input.rootNamespace);
  const ras = applicablePolicies(input.configs, 'RequestAuthentication', input.workload, input.rootNamespace);
  const trustDomains = [input.trustDomain, ...(input.trustDomainAliases ?? [])];
  const authz = buildAuthzFilters(aps, { trustDomains, extensionProviders: input.extensionProviders ?? [] });
  const jwt = buildJwtAuthnFilter(ras);
  return {
    httpFilters: jwt ? [jwt, ...authz.http] : authz.http,
    tcpFilters: authz.tcp,
    mtls: effectiveMtls(input.configs, input.workload, input.rootNamespace),
    authorizationPolicies: aps.map(key),
    requestAuthentications: ras.map(key),
    notes: authz.notes,
  };
}

/** MeshConfig pathNormalization.normalization. */
export type PathNormalizationMode = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/** The HTTP connection manager fields for a MeshConfig pathNormalization mode (default BASE), as Istio sets them. */
export function hcmPathNormalization(mode: PathNormalizationMode = 'BASE'): Json {
  switch (mode) {
    case 'NONE':
      return { normalize_path: { value: false } };
    case 'BASE':
      return { normalize_path: { value: true } };
    case 'MERGE_SLASHES':
      return { normalize_path: { value: true }, merge_slashes: true };
    case 'DECODE_AND_MERGE_SLASHES':
      return { normalize_path: { value: true }, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' };
  }
}
export { routeClaimMatcher, routingClaim } from './claim-routing.ts';
export { inferServiceMtlsMode } from './peer-authn.ts';
