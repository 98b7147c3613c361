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
