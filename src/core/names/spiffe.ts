// SPIFFE identities as Istio uses them: `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
import { type Result, ok, err } from '../result.ts';

export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export function parseSpiffeId(uri: string): Result<SpiffeId, string> {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m) return err(`"${uri}" is not a SPIFFE id of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`);
  return ok({ trustDomain: m[1]!, namespace: m[2]!, serviceAccount: m[3]! });
}

/** Istio principal form used in AuthorizationPolicy: the SPIFFE id without the scheme. */
export function principalOf(id: SpiffeId): string {
  return `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/**
 * Checks a namespace (DNS-1123 label) and service account (DNS-1123 subdomain) before they become part of an identity.
 * Returns what is wrong, or undefined when both are valid.
 */
export function identityNameProblem(namespace: string, serviceAccount: string): string | undefined {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) return `namespace "${namespace}" must be a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters`;
  if (serviceAccount.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(serviceAccount)) {
    return `service account "${serviceAccount}" must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253 characters`;
  }
  return undefined;
}
