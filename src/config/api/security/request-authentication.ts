// RequestAuthentication (security.istio.io/v1, v1beta1): which JWTs a workload accepts and where it finds them.
// Types mirror istio.security.v1beta1.RequestAuthentication and JWTRule; the validator implements Istio's webhook rules.
import type { Resource } from '../resource.ts';
import { checkDuration } from '../validation/common/duration.ts';
import { checkSelectorOrTargetRefs, type PolicyTargetReference, type WorkloadSelector } from '../validation/common/labels.ts';
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';

/** A header a token may be read from, e.g. `Authorization` with prefix `Bearer `. */
export interface JwtHeader {
  /** Header name; required. */
  name: string;
  /** Prefix stripped before the token (e.g. `Bearer `); default none. */
  prefix?: string;
}

/** Copy one claim of a verified token into a request header. */
export interface ClaimToHeader {
  /** Header to set; letters, digits, '-' and '_' only. */
  header: string;
  /** Claim name; nested claims use dots (`a.b`). */
  claim: string;
}

export interface JwtRule {
  /** Expected `iss` claim; required unless jwksUri is set. */
  issuer?: string;
  /** Accepted `aud` values; empty = any audience. */
  audiences?: string[];
  /** URL of the issuer's public key set (http or https); exclusive with jwks. */
  jwksUri?: string;
  /** Inline JSON Web Key Set; exclusive with jwksUri. */
  jwks?: string;
  /** Headers to read the token from; default `Authorization: Bearer <token>`. */
  fromHeaders?: JwtHeader[];
  /** Query parameters to read the token from; default `access_token`. */
  fromParams?: string[];
  /** Cookies to read the token from. */
  fromCookies?: string[];
  /** Header that receives the base64url-encoded verified payload. */
  outputPayloadToHeader?: string;
  /** Keep the token in the forwarded request; default false (it is removed). */
  forwardOriginalToken?: boolean;
  /** Claims copied to headers after verification. */
  outputClaimToHeaders?: ClaimToHeader[];
  /** Timeout of the JWKS fetch (Go duration, ≥ 1 ms); default 5s. */
  timeout?: string;
  /** Claims whose value is a space-separated list (besides `scope` and `permission`). */
  spaceDelimitedClaims?: string[];
}

export interface RequestAuthenticationSpec {
  /** Workloads the policy applies to; absent = the namespace (or mesh, in the root namespace). */
  selector?: WorkloadSelector;
  /** Single attachment target (Gateway, Service, ServiceEntry); exclusive with selector and targetRefs. */
  targetRef?: PolicyTargetReference;
  /** Attachment targets; exclusive with selector and targetRef. */
  targetRefs?: PolicyTargetReference[];
  /** The JWT issuers accepted; a request with a token that matches none is rejected (401). */
  jwtRules?: JwtRule[];
}

/** Istio's strict header-name rule for headers Weft writes. */
const STRICT_HEADER = /^[-_A-Za-z0-9]+$/;

export const validateRequestAuthentication: SemanticValidator = (res: Resource): Validation => {
  const r = new Reporter('spec');
  const spec = (res.spec ?? {}) as RequestAuthenticationSpec & Record<string, unknown>;
  checkSelectorOrTargetRefs(r, spec, 'selector');
  (spec.jwtRules ?? []).forEach((rule, i) => checkJwtRule(r.at('jwtRules').at(i), rule));
  return r.out;
};

function checkJwtRule(r: Reporter, rule: JwtRule | null): void {
  if (rule === null || rule === undefined) return;
  (rule.audiences ?? []).forEach((a, i) => {
    if (a === '') r.at('audiences').at(i).error('audience must be a non-empty string');
  });
  if (!rule.issuer && !rule.jwksUri) r.at('issuer').error('required: set issuer (the expected "iss" claim) or jwksUri');
  if (rule.jwksUri) {
    const why = jwksUriProblem(rule.jwksUri);
    if (why) r.at('jwksUri').error(why);
  }
  if (rule.jwks) {
    const why = jwksProblem(rule.jwks);
    if (why) r.at('jwks').error(why);
    else warnPrivateKeys(r.at('jwks'), rule.jwks);
    // The CRD's CEL rule makes them exclusive; repeated here for callers that run the webhook rules alone.
    if (rule.jwksUri) r.error('only one of jwks or jwksUri can be set: keep the inline key set or the URL, not both');
  }
  (rule.fromHeaders ?? []).forEach((h, i) => {
    const hr = r.at('fromHeaders').at(i);
    if (h === null || h === undefined) hr.error('a token header entry must not be null: set name');
    else if (!h.name) hr.at('name').error('header name must be a non-empty string, e.g. "Authorization"');
  });
  (rule.fromParams ?? []).forEach((p, i) => {
    if (p === '') r.at('fromParams').at(i).error('query parameter name must be a non-empty string, e.g. "access_token"');
  });
  (rule.fromCookies ?? []).forEach((c, i) => {
    if (c === '') r.at('fromCookies').at(i).error('cookie name must be a non-empty string');
  });
  if (rule.outputPayloadToHeader !== undefined && rule.outputPayloadToHeader !== '' && !STRICT_HEADER.test(rule.outputPayloadToHeader)) {
    r.at('outputPayloadToHeader').error(`header name ${JSON.stringify(rule.outputPayloadToHeader)} is not valid: use letters, digits, '-' and '_'`);
  }
  (rule.outputClaimToHeaders ?? []).forEach((c, i) => {
    const cr = r.at('outputClaimToHeaders').at(i);
    if (c === null || c === undefined) {
      cr.error('outputClaimToHeaders entry must not be null: set header and claim');
    } else if (!c.claim || !c.header) {
      cr.error('outputClaimToHeaders needs both header and claim as non-empty strings');
    } else if (!STRICT_HEADER.test(c.header)) {
      cr.at('header').error(`header name ${JSON.stringify(c.header)} is not valid: use letters, digits, '-' and '_'`);
    }
  });
  if (rule.timeout !== undefined) checkDuration(r.at('timeout'), rule.timeout);
}

/** Istio accepts jwksUri with scheme http or https only. */
export function jwksUriProblem(uri: string): string | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return `${JSON.stringify(uri)} is not a valid URL: use an http:// or https:// URL of the issuer's JWKS`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return `URI scheme ${JSON.stringify(u.protocol.replace(/:$/, ''))} is not supported: use http:// or https://`;
  }
  return undefined;
}

/** An inline JWKS must be a JSON object with a `keys` list (or a single JWK), each key with a `kty`. */
export function jwksProblem(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `jwks is not valid JSON (${e instanceof Error ? e.message : String(e)}): paste the issuer's JSON Web Key Set`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'jwks must be a JSON object with a "keys" list';
  const obj = parsed as Record<string, unknown>;
  const keys = 'keys' in obj ? obj['keys'] : [obj];
  if (!Array.isArray(keys)) return 'jwks "keys" must be a list of JSON Web Keys';
  for (const [i, k] of keys.entries()) {
    if (typeof k !== 'object' || k === null || typeof (k as Record<string, unknown>)['kty'] !== 'string') {
      return `jwks key ${i} has no "kty" (key type): each key needs kty, e.g. "RSA" or "EC"`;
    }
  }
  return undefined;
}

/** Envoy needs public keys only; private key material in config is a leak waiting to happen (Istio warns too). */
function warnPrivateKeys(r: Reporter, text: string): void {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const keys = Array.isArray(parsed['keys']) ? (parsed['keys'] as unknown[]) : [parsed];
  keys.forEach((k, i) => {
    const key = k as Record<string, unknown>;
    if (key['d'] !== undefined || key['kty'] === 'oct') {
      r.warn(`jwks key at index ${i} contains private key material; only public keys are used for verification, so remove it`);
    }
  });
}
