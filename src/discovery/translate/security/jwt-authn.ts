// RequestAuthentications that apply to a workload → Envoy's jwt_authn filter config, with Istio's semantics: one
// provider per JWT rule (`origins-N`), the verified payload kept in metadata under `payload` (what RBAC's request
// principal and claim matchers read), and a requirement that lets a request without a token through while a token that
// fails every provider is rejected (401). Remote key sets are fetched by the proxy (remote_jwks, 5-minute cache).
import type { Resource } from '../../../config/api/resource.ts';
import type { JwtRule, RequestAuthenticationSpec } from '../../../config/api/security/request-authentication.ts';
import { duration, type Json } from '../common.ts';
import { JWT_PAYLOAD_KEY } from './rbac-rule.ts';

export const JWT_AUTHN_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';

/** Go duration → ms for `timeout`; invalid values were rejected by validation, so fall back to the default. */
function timeoutMs(t: string | undefined): number {
  if (!t) return 5000;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(t);
  if (!m) return 5000;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]!]!;
}

/** `outbound|port||host` for a JWKS URL (Istio points remote_jwks at the issuer's outbound cluster). */
function jwksCluster(uri: string): string {
  const u = new URL(uri);
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return `outbound|${port}||${u.hostname}`;
}

function provider(rule: JwtRule): Json {
  const p: Json = { payload_in_metadata: JWT_PAYLOAD_KEY };
  if (rule.issuer) p['issuer'] = rule.issuer;
  if (rule.audiences?.length) p['audiences'] = rule.audiences;
  if (rule.forwardOriginalToken) p['forward'] = true;
  if (rule.outputPayloadToHeader) p['forward_payload_header'] = rule.outputPayloadToHeader;
  if (rule.fromHeaders?.length) p['from_headers'] = rule.fromHeaders.map((h) => (h.prefix ? { name: h.name, value_prefix: h.prefix } : { name: h.name }));
  if (rule.fromParams?.length) p['from_params'] = rule.fromParams;
  if (rule.fromCookies?.length) p['from_cookies'] = rule.fromCookies;
  if (rule.outputClaimToHeaders?.length) p['claim_to_headers'] = rule.outputClaimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim }));
  const spaceDelimited = ['scope', 'permission', ...(rule.spaceDelimitedClaims ?? [])].filter((c, i, a) => a.indexOf(c) === i);
  p['normalize_payload_in_metadata'] = { space_delimited_claims: spaceDelimited };
  if (rule.jwks) p['local_jwks'] = { inline_string: rule.jwks };
  else if (rule.jwksUri) {
    p['remote_jwks'] = { http_uri: { uri: rule.jwksUri, cluster: jwksCluster(rule.jwksUri), timeout: duration(timeoutMs(rule.timeout)) }, cache_duration: duration(300_000) };
  }
  return p;
}

/** The jwt_authn HTTP filter for the workload's RequestAuthentications, or undefined when none has JWT rules. */
export function buildJwtAuthnFilter(policies: readonly Resource[]): Json | undefined {
  const rules = policies.flatMap((p) => ((p.spec ?? {}) as RequestAuthenticationSpec).jwtRules ?? []);
  if (rules.length === 0) return undefined;
  const providers: Record<string, Json> = {};
  const inner: Json[] = [];
  const outer: Json[] = [];
  rules.forEach((rule, i) => {
    const name = `origins-${i}`;
    providers[name] = provider(rule);
    inner.push({ requires_any: { requirements: [{ provider_name: name }, { allow_missing: {} }] } });
    outer.push({ provider_name: name });
  });
  // With one rule: that provider or no token. With several: any one provider verifies, or every provider allows missing.
  const requires = inner.length === 1 ? inner[0]! : { requires_any: { requirements: [...outer, { requires_all: { requirements: inner } }] } };
  return {
    name: 'envoy.filters.http.jwt_authn',
    typed_config: { '@type': JWT_AUTHN_TYPE, providers, rules: [{ match: { prefix: '/' }, requires }], bypass_cors_preflight: true },
  };
}
