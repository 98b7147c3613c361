// The security.istio.io kinds: their spec types and semantic (webhook-layer) validators, by kind.
import type { SemanticValidator } from '../validation/report.ts';
import { validateAuthorizationPolicy } from './authorization-policy.ts';
import { validatePeerAuthentication } from './peer-authentication.ts';
import { validateRequestAuthentication } from './request-authentication.ts';

export type { AuthorizationAction, AuthorizationPolicySpec, Condition, Operation, Rule, Source } from './authorization-policy.ts';
export type { MtlsMode, MutualTls, PeerAuthenticationSpec } from './peer-authentication.ts';
export type { ClaimToHeader, JwtHeader, JwtRule, RequestAuthenticationSpec } from './request-authentication.ts';
export { validateAuthorizationPolicy, validatePeerAuthentication, validateRequestAuthentication };

export const securityValidators: Readonly<Record<string, SemanticValidator>> = {
  AuthorizationPolicy: validateAuthorizationPolicy,
  PeerAuthentication: validatePeerAuthentication,
  RequestAuthentication: validateRequestAuthentication,
};
